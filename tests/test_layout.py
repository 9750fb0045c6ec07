"""The package's shape: the top level holds the command and one folder per concern; a module outside a subpackage
imports only what the subpackage's __init__ offers; imports between r1lite modules and between subpackages form no
cycle (counting the lazy ones inside functions and those under TYPE_CHECKING); no module imports another's private
name; the commands are listed in one place (cli.COMMANDS)."""

import ast
from pathlib import Path

from r1lite import cli

PACKAGE = Path(cli.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


TOP_LEVEL = {"__init__.py", "__main__.py", "cli.py", "jsonl.py"}  # jsonl: the one cross-cutting leaf
SUBPACKAGES = {"recipe", "data", "models", "grading", "rewards", "backends", "runs", "train", "eval", "generate",
               "tools"}


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (in functions, under `if TYPE_CHECKING:`)."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph, private = {}, []
    for name, path in modules.items():
        deps = set()
        for node in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
                continue
            if not (node.module or "").startswith("r1lite"):
                continue
            for alias in node.names:
                deps.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module)
                if alias.name.startswith("_"):
                    private.append(f"{name}: from {node.module} import {alias.name}")
        graph[name] = deps - {name, "r1lite"}
    return graph, private


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep] if dep in path else [node, dep]
            if dep not in state and (found := visit(dep, path + [dep])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_imports_form_no_cycle():
    graph, _ = _graph()
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def _package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def test_subpackages_depend_one_way():
    """Between folders too, dependencies run one way (grading below data below models ... below train, eval, generate,
    tools, cli): no lower layer reaches back up, not even for a type hint."""
    graph, _ = _graph()
    packages: dict[str, set[str]] = {}
    for module, deps in graph.items():
        packages.setdefault(_package(module), set()).update(_package(d) for d in deps)
    packages = {p: deps - {p, "r1lite"} for p, deps in packages.items()}
    assert _cycle(packages) is None, " -> ".join(_cycle(packages))


def test_the_top_level_holds_the_command_and_one_folder_per_concern():
    files = {p.name for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert files == TOP_LEVEL and folders == SUBPACKAGES


def test_the_readme_layout_is_the_tree():
    """README's Layout section lists exactly the top-level modules and folders there are."""
    readme = (PACKAGE.parents[1] / "README.md").read_text()
    tree = readme.split("## Layout", 1)[1].split("```", 2)[1].split("\nrecipes/", 1)[0]
    listed = {line.split()[0].split("/")[0] for line in tree.splitlines()[2:] if line.startswith("  ") and line[2] != " "}
    assert listed == {*TOP_LEVEL - {"__init__.py", "__main__.py"}, *SUBPACKAGES, "recipes"}


def test_a_subpackage_is_entered_through_its_init():
    """Outside a subpackage, imports name the subpackage (`from r1lite.grading import grade_batch`), never one of its
    modules: its __init__ is the public surface, and what lies behind it can move."""
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    crossing = []
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        for node in _imports(ast.parse(path.read_text())):
            targets = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module in {f"r1lite.{p}" for p in SUBPACKAGES}:
                targets += [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                parts = target.split(".")
                if (len(parts) > 2 and parts[0] == "r1lite" and parts[1] in SUBPACKAGES and target in modules
                        and _package(name) != parts[1]):
                    crossing.append(f"{name}: imports {target}")
    assert crossing == []


def test_no_private_name_is_imported_across_modules():
    _, private = _graph()
    assert private == []


def test_every_stage_module_has_the_stage_contract():
    for stage in cli.STAGES:
        module = cli.module(stage)
        assert callable(module.run) and callable(module.cli), stage
        assert callable(getattr(module.Recipe, "validate", None)), stage


def test_the_stages_are_listed_once():
    """No other module spells out the stage modules: they read cli.STAGES."""
    listed = [p.name for p in PACKAGE.rglob("*.py") if p.name != "cli.py"
              and all(f'"r1lite.{m}"' in p.read_text() for m in ("grpo", "sft", "evaluate", "generate"))]
    assert listed == []


def test_every_module_is_small():
    """One concern per module: none grows past ~400 lines (split along a real seam when one does)."""
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def _defined_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def test_names_are_imported_from_where_they_are_defined():
    """No module re-exports another's name: an import names the module that defines it, so moving code moves imports."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    defined = {name: _defined_names(ast.parse(path.read_text())) for name, path in modules.items()}
    for name, path in modules.items():  # a subpackage's __init__ is its public surface: what it re-exports it offers
        if path.name == "__init__.py":
            defined[name] |= {a.asname or a.name for node in _imports(ast.parse(path.read_text()))
                              if isinstance(node, ast.ImportFrom) for a in node.names}
    files = [*PACKAGE.rglob("*.py"), *(PACKAGE.parents[1] / "tests").glob("*.py")]
    through = []
    for path in files:
        for node in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in defined:
                through += [f"{path.name}: from {node.module} import {a.name}" for a in node.names
                            if a.name not in defined[node.module] and f"{node.module}.{a.name}" not in modules]
    assert through == []
