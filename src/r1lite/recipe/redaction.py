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
SECRET_FIELD = re.compile(r"(^|_)(api_?key|token|secret|password|passwd|credentials?)$", re.IGNORECASE)
# provider key shapes: OpenAI/DeepSeek/Anthropic (sk-), Stripe-like (sk_), Groq (gsk_), xAI (xai-), Hugging Face
# (hf_), GitHub, Slack, AWS access key ids, Google API keys, W&B-style 40-hex tokens, and any Bearer token
KEY_LIKE = re.compile(
    r"(?<![A-Za-z0-9])(sk-[A-Za-z0-9_-]{8,}|sk_[A-Za-z0-9]{8,}|gsk_[A-Za-z0-9]{8,}|xai-[A-Za-z0-9_-]{8,}|"
    r"hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|xox[abpr]-[A-Za-z0-9-]{8,}|"
    r"(?:AKIA|ASIA)[A-Z0-9]{12,}|AIza[A-Za-z0-9_-]{20,}|"
    r"(?i:bearer)\s+[^\s'\"]{8,})")
URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s:@'\"]+:[^/\s@'\"]*@")  # scheme://user:pass@host
SECRET_QUERY = re.compile(r"(?i)([?&;](?:[a-z0-9_]*_)?(?:api_?key|key|token|access_token|secret|password|sig|"
                          r"signature)=)[^&#\s'\"]+")


def looks_like_key(text: str) -> bool:
    """Whether `text` holds a key shape or credentials in a URL."""
    return bool(KEY_LIKE.search(text) or URL_CREDENTIALS.search(text) or SECRET_QUERY.search(text))


def redact_text(text: str) -> str:
    """`text` with every key shape, URL credential and secret query value replaced by <redacted>."""
    text = KEY_LIKE.sub(REDACTED, text)
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
