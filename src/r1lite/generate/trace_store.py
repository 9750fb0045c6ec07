"""`r1lite generate`'s output folder, append-only and resumable: which prompts are done, and their accepted rows.

    output_dir/data/train-NNNNN.jsonl   accepted rows, appended to the last shard (a new one every shard_rows rows)
    output_dir/ledger.jsonl             one entry per finished prompt, appended (fsync'd) after its rows: the commit
    output_dir/stats.json               the run's numbers, replaced atomically (write_json)

open_output_dir applies runs.open_run's policy to the FINGERPRINT fields (what changes a prompt's output): the
same ones resume, others are refused; overwrite_output_dir starts over in any case. Store then cuts what was written
after the last commit (a kill between the two writes), so that prompt is simply done again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from r1lite.jsonl import append_jsonl, write_atomic
from r1lite.runs import open_run

LEDGER, STATS, DATA = "ledger.jsonl", "stats.json", "data"
# recipe parts that change what a finished prompt's output would be: a resumed run must not mix two of them
FINGERPRINT = ("data", "sampling", "filters", "decontamination", "teacher.backend", "model.model_name_or_path",
               "teacher.base_url")


def row_key(row: dict[str, Any]) -> str:
    """A prompt's key in the ledger."""
    return f"{row['source']}::{row['id']}"


def open_output_dir(recipe: Any, write: bool = True) -> Path:
    """runs.open_run: resume the run in output_dir when it was made with the same FINGERPRINT fields; refuse
    otherwise; start over (whatever made it) with overwrite_output_dir. With write=False only the refusal is checked
    and nothing is created."""
    out = Path(recipe.output_dir)
    resume = open_run(out, recipe, FINGERPRINT, write=write)
    if write and not resume:
        for name in (LEDGER, STATS):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / DATA, ignore_errors=True)
    return out


def has_work(out: Path, rows: list[dict[str, Any]], recipe: Any) -> bool:
    """Whether some prompt is not in the ledger yet (a finished run reloads no model and opens no connection)."""
    if recipe.overwrite_output_dir:
        return bool(rows)
    done = set()
    for line in _complete_lines(out / LEDGER):
        try:
            done.add(json.loads(line)["key"])
        except (ValueError, KeyError, TypeError):
            continue
    return any(row_key(r) not in done for r in rows)


class Store:
    """Accepted rows go to data/train-NNNNN.jsonl, then the prompt's ledger line is appended: the ledger line is the
    commit. On open, anything after the last commit (a run killed between the two writes) is cut off the last
    shard, so that prompt is simply done again."""

    def __init__(self, output_dir: Path, shard_rows: int):
        self.dir, self.shard_rows = output_dir, shard_rows
        (output_dir / DATA).mkdir(parents=True, exist_ok=True)
        committed = _complete_lines(output_dir / LEDGER)
        _rewrite(output_dir / LEDGER, committed)  # a ledger line cut by a kill is not a commit
        self.entries = [json.loads(line) for line in committed]
        self.done = {e["key"] for e in self.entries}
        shards = sorted((output_dir / DATA).glob("train-*.jsonl"))
        self.shard = shards[-1] if shards else output_dir / DATA / "train-00000.jsonl"
        # rows are only ever appended to the last shard, so uncommitted rows can only be there
        rows = [line for line in _complete_lines(self.shard) if row_key(json.loads(line)) in self.done]
        _rewrite(self.shard, rows)
        self.shard_count = len(rows)

    def commit(self, rows: list[dict[str, Any]], entry: dict[str, Any]) -> None:
        if rows:
            if self.shard_count and self.shard_count + len(rows) > self.shard_rows:
                self.shard = self.shard.with_name(f"train-{int(self.shard.stem.split('-')[1]) + 1:05d}.jsonl")
                self.shard_count = 0
            append_jsonl(self.shard, rows, ensure_ascii=False)
            self.shard_count += len(rows)
        append_jsonl(self.dir / LEDGER, [entry], ensure_ascii=False)
        self.entries.append(entry)
        self.done.add(entry["key"])


def _complete_lines(path: Path) -> list[str]:
    """The newline-terminated lines of a file (a line cut by a kill mid-write is dropped)."""
    if not path.exists():
        return []
    text = path.read_text()
    return [line + "\n" for line in text.split("\n")[:-1] if line.strip()]


def _rewrite(path: Path, lines: list[str]) -> None:
    if path.exists() and path.read_text() != "".join(lines):
        write_atomic(path, "".join(lines))


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
