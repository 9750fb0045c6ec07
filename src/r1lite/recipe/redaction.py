"""The one redaction rule for everything r1lite writes or prints: recipes recorded in run folders, log lines, error
messages, trainer arguments pickled into checkpoints. A key may be pasted anywhere (a run name, a system prompt, a
URL), so values are scanned for known key shapes and credentials in URLs, and any field named like a secret is
blanked whatever its value.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "<redacted>"
# a field named like a credential; a tokenizer's special tokens (SFTConfig.eos_token, pad_token) and token counts
# are settings, not secrets
SECRET_FIELD = re.compile(r"^(?!(?:.*_)?(?:eos|bos|pad|unk|sep|cls|mask|special|max|min|num)_token$)"
                          r".*(?:^|_)(?:api_?key|token|secret|password|passwd|credentials?)$", re.IGNORECASE)
# provider key shapes, each at its real length: OpenAI/DeepSeek/Anthropic (sk-), Stripe-like (sk_), Groq (gsk_),
# xAI (xai-), Hugging Face (hf_), GitHub, Slack, AWS access key ids, Google API keys, and Bearer tokens. A candidate
# counts only when it is token-shaped (_token_shaped): a dataset id such as `sk-olympiad-2019-p0`, a file named
# `sk-math-problems.jsonl` (Slovak) or "the ring bearer received 12 coins" is not a key.
KEY_LIKE = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:sk-|sk_|gsk_|xai-)([A-Za-z0-9_-]{20,})|hf_([A-Za-z0-9]{20,})|"
    r"gh[pousr]_([A-Za-z0-9]{30,})|github_pat_([A-Za-z0-9_]{30,})|xox[abpr]-([A-Za-z0-9-]{20,})|"
    r"(?:AKIA|ASIA)([A-Z0-9]{16})(?![A-Za-z0-9])|AIza([A-Za-z0-9_-]{35})|(?i:bearer)\s+([A-Za-z0-9._~+/=-]{20,}))")
# W&B API keys are 40 hex digits, which is also what a git commit sha is: a 40-hex value is a key only after a
# `wandb...` word (`WANDB_API_KEY=...`, `wandb-<key>`, `wandb login <key>`), or as the value of a field named like a
# secret (redact); a git sha in run.json or a log line is kept
WANDB_KEY = re.compile(r"(?i)(wandb(?:[A-Za-z0-9_]{0,12}|\s+login)['\"]?\s*[\s:=_'\"-]\s*['\"]?)[0-9a-f]{40}(?![0-9a-f])")
URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s:@'\"]+:[^/\s@'\"]*@")  # scheme://user:pass@host
SECRET_QUERY = re.compile(r"(?i)([?&;](?:[a-z0-9_]*_)?(?:api_?key|key|token|access_token|secret|password|sig|"
                          r"signature)=)[^&#\s'\"]+")


def _token_shaped(body: str) -> bool:
    """A generated key, not a word or a slug: a run of 16+ letters and digits, mixing at least two of lower case,
    upper case and digits."""
    run = max(re.findall(r"[A-Za-z0-9]+", body), key=len, default="")
    classes = sum(bool(re.search(c, run)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    return len(run) >= 16 and classes >= 2


def _redact_key(match: re.Match) -> str:
    body = next(g for g in match.groups() if g is not None)
    return REDACTED if _token_shaped(body) else match.group(0)


def looks_like_key(text: str) -> bool:
    """Whether `text` holds a key shape or credentials in a URL."""
    return redact_text(text) != text


def redact_text(text: str) -> str:
    """`text` with every key shape, URL credential and secret query value replaced by <redacted>: for recipe values,
    URLs, log records and error lines, never for data (prompts, completions, ids, resume keys)."""
    text = KEY_LIKE.sub(_redact_key, text)
    text = WANDB_KEY.sub(lambda m: m.group(1) + REDACTED, text)
    text = URL_CREDENTIALS.sub(REDACTED + "@", text)
    return SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


def redact(tree: Any) -> Any:
    """Plain data (a recipe as dicts and lists) with secret-named fields' values blanked and secrets in strings
    replaced."""
    if isinstance(tree, dict):
        return {k: REDACTED if (SECRET_FIELD.search(str(k)) and v not in (None, "")) else redact(v)
                for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [redact(v) for v in tree]
    return redact_text(tree) if isinstance(tree, str) else tree


def redact_logging() -> None:
    """Every log record, whichever library and handler writes it (a retry warning quoting a URL, say), with secrets
    replaced: installed once, as the record factory."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacting", False):
        return

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call is the logging module's to report, at emit
            return record
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    redacting_record.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_record)
