"""`r1lite eval --backend openai` and `r1lite generate` against a real `transformers serve` (issue 16, item 12).

Optional: skipped, saying why, unless transformers' serving extras (fastapi, uvicorn, openai) are installed. The
server samples only when the model folder's generation_config does: a folder r1lite writes gives distinct samples;
a plain folder gives k identical ones, and r1lite says so."""

import contextlib
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def serve_available() -> bool:
    try:
        from transformers.utils.import_utils import is_serve_available
    except ImportError:
        return False
    return is_serve_available()


pytestmark = pytest.mark.skipif(not serve_available(), reason="transformers serve needs its serving extras: "
                                "pip install 'transformers[serving]' (fastapi, uvicorn, openai)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", "from transformers.cli.transformers import main; main()", "serve",
                             "--port", str(port), "--host", "127.0.0.1", "--device", "cpu"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=2).close()
            break
        except OSError:
            assert proc.poll() is None, "transformers serve exited at start"
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("transformers serve did not start within 120 s")
    yield f"{url}/v1"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """(a model folder as r1lite writes it, the same folder without sampling defaults)."""
    from r1lite.models import models

    tmp = tmp_path_factory.mktemp("serve")
    os.environ["R1LITE_CACHE"] = str(tmp / "cache")
    try:
        ours = Path(models.materialize("tiny:qwen2"))
    finally:
        del os.environ["R1LITE_CACHE"]
    plain = tmp / "plain"
    shutil.copytree(ours, plain)
    config = json.loads((plain / "generation_config.json").read_text())
    for key in models.SAMPLING_DEFAULTS:
        config.pop(key)
    (plain / "generation_config.json").write_text(json.dumps(config))
    return ours, plain


def run_cli(*argv: str) -> tuple[int, str]:
    from r1lite.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(list(argv))
    return rc, err.getvalue()


def bench(tmp_path: Path) -> Path:
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps({"id": i, "problem": f"{i} + {i}?", "answer": str(2 * i)}) + "\n"
                            for i in range(4)))
    return path


def eval_args(tmp_path: Path, model: Path, server: str, name: str) -> list[str]:
    return ["eval", "--model", str(model), "--backend", "openai", "--benchmarks", "mine",
            "--benchmark_args", json.dumps({"mine": {"path": str(bench(tmp_path))}}),
            "--backend_args", json.dumps({"base_url": server, "api_key_env": None, "max_concurrency": 2}),
            "--num_samples", "2", "--temperature", "1.0", "--max_new_tokens", "12",
            "--output_dir", str(tmp_path / name)]


def test_eval_against_transformers_serve(tmp_path, server, folders, caplog):
    ours, plain = folders
    with caplog.at_level(logging.WARNING):
        rc, err = run_cli(*eval_args(tmp_path, ours, server, "ours"))
    assert rc == 0, err
    samples = [json.loads(line) for line in (tmp_path / "ours" / "samples.jsonl").read_text().splitlines()]
    by_problem = {}
    for s in samples:
        by_problem.setdefault(s["id"], set()).add(s["response"])
    assert len(samples) == 8 and any(len(texts) > 1 for texts in by_problem.values())
    assert "ignores temperature" not in caplog.text
    with caplog.at_level(logging.WARNING):
        rc, err = run_cli(*eval_args(tmp_path, plain, server, "plain"))
    assert rc == 0, err
    assert "ignores temperature" in caplog.text and "do_sample" in caplog.text


def test_generate_against_transformers_serve(tmp_path, server, folders):
    ours, _ = folders
    recipe = tmp_path / "gen.yaml"
    import yaml

    recipe.write_text(yaml.safe_dump({
        "teacher": {"backend": "openai", "model": str(ours), "base_url": server, "api_key_env": None,
                    "concurrency": 2, "price_input_per_m": 0, "price_output_per_m": 0},
        "data": {"sources": [{"path": str(bench(tmp_path))}], "system_prompt": None},
        "sampling": {"n": 2, "max_new_tokens": 12, "temperature": 1.0},
        "decontamination": {"enabled": False}, "output_dir": str(tmp_path / "gen")}))
    rc, err = run_cli("generate", "--config", str(recipe))
    assert rc == 0, err
    stats = json.loads((tmp_path / "gen" / "stats.json").read_text())
    assert stats["requests"] == 8 and stats["prompts_done"] == 4 and stats["removed"]["error"] == 0
