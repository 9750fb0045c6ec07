"""Run files that survive a kill: every log, ledger and sample file of a run is appended here, a batch of rows at a
time, fsynced, so a kill loses at most the rows being written and resuming never redoes what is on disk; read_rows
skips a line a kill cut short; write_atomic replaces a whole file (a recorded recipe, a trimmed log) in one step."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from r1lite.recipe import redact_text


def append_jsonl(path: Path, rows: list[dict[str, Any]], **dumps: Any) -> None:
    """Append rows as JSON lines and fsync, so a kill loses at most the rows being written; a line a kill cut short
    is ended first, so the next row is not glued to it (readers skip the fragment)."""
    torn = path.is_file() and path.stat().st_size > 0 and _last_byte(path) != b"\n"
    default = dumps.pop("default", None)
    lines = [json.dumps(plain(r, default), allow_nan=False, **dumps) + "\n" for r in rows]
    with open(path, "a") as fh:
        fh.write("\n" if torn else "")
        fh.writelines(lines)
        fh.flush()
        os.fsync(fh.fileno())


def plain(value: Any, default: Any = None) -> Any:
    """`value` as strict JSON data: NaN and infinities become null (JSON has no such tokens), numpy and torch
    scalars their Python values, anything else `default(value)` when given; text with a key in it redacted (a key
    pasted into a prompt or run name never reaches a run file)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, (int, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v, default) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, default) for v in value]
    if hasattr(value, "item"):
        try:
            return plain(value.item(), default)
        except (TypeError, ValueError):
            pass
    return plain(default(value)) if default is not None else value


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)


def read_rows(path: Path) -> list[Any]:
    """The rows of a JSON Lines file, without a line a kill cut short (it does not parse); [] when there is none."""
    rows = []
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def write_atomic(path: Path, text: str) -> None:
    """Replace a file's text atomically: a kill leaves the old file or the new one, never half of it."""
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
