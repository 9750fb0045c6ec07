"""Any OpenAI-compatible chat-completions endpoint: DeepSeek's API, a vLLM or SGLang server, others.

Standard library only (urllib + threads): one HTTP request per sample, at most `max_concurrency` in flight, each
retried with exponential backoff and full jitter on 429 / 5xx / timeouts / dropped connections, waiting at least
what a Retry-After header asks. `generate_iter` yields each prompt's samples as soon as they are all in, so a caller
can record finished prompts while others are still running (`r1lite generate` resumes from that record).

The API key is read from the environment variable *named* by `api_key_env`, at each request; it is never stored on
the object, logged, or put into an exception (server error bodies are scrubbed of it too).
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from r1lite.backends.base import Completion, SamplingParams
from r1lite.recipe import redact_text

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529}
FATAL_STATUS = {401, 403, 404}  # wrong key, model or URL: every other request would fail the same way
BODY_CHARS = 300  # server error text kept in messages


class APIError(RuntimeError):
    """A request that failed for good (fatal status, or retries exhausted). Never carries the API key."""


def _retry_after(value: str | None) -> float | None:
    """Seconds asked by a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def messages_of(prompt: Any) -> list[dict[str, str]]:
    """A chat as is; a str as one user message."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": m["role"], "content": m["content"]} for m in prompt]


def parse_reply(reply: dict[str, Any]) -> Completion:
    """One chat-completions response (one choice) as a Completion."""
    choice = reply["choices"][0]
    message = choice.get("message") or {}
    usage = reply.get("usage") or {}
    # DeepSeek and vLLM's reasoning parsers use reasoning_content; some gateways use reasoning
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return Completion(text=message.get("content") or "", prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      completion_tokens=int(usage.get("completion_tokens") or 0),
                      finish_reason=choice.get("finish_reason") or "stop",
                      reasoning=reasoning if isinstance(reasoning, str) and reasoning else None)


def error_text(body: str) -> str:
    """The message of an error response: FastAPI's `detail` (transformers serve, vLLM), OpenAI's `error.message`,
    or the body as is."""
    try:
        reply = json.loads(body)
    except ValueError:
        return body
    if isinstance(reply, dict):
        error = reply.get("error")
        detail = reply.get("detail") or (error.get("message") if isinstance(error, dict) else error)
        if detail:
            return detail if isinstance(detail, str) else json.dumps(detail)
    return body


def endpoint(base_url: str) -> tuple[str, str | None]:
    """(the chat-completions URL of a base URL, the Basic authorization its user:pass@ asked for). The path gets
    /chat/completions before any ?query (a gateway's ?api_key=... stays a query parameter); credentials in the host
    part move to a header (urllib would take them for part of the host name)."""
    parts = urllib.parse.urlsplit(base_url.strip())
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path += "/chat/completions"
    netloc, auth = parts.netloc.rpartition("@")[2], None
    if parts.username is not None:
        user = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(user.encode()).decode()
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment)), auth


class OpenAIBackend:
    def __init__(self, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY", max_concurrency: int = 8,
                 timeout_s: float = 600.0, max_retries: int = 6, backoff_s: float = 1.0, backoff_max_s: float = 60.0,
                 extra_body: dict[str, Any] | None = None):
        if api_key_env and not os.environ.get(api_key_env):
            raise ValueError(f"the environment variable {api_key_env} (api_key_env) is not set; export it with the "
                             "API key, or set api_key_env to null for a server without authentication")
        if max_concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise ValueError("max_concurrency must be >= 1, max_retries >= 0 and timeout_s > 0")
        self._request_url, self._basic_auth = endpoint(base_url)
        self.url = redact_text(self._request_url)  # what messages show: no credentials, no ?api_key= value
        self.model = model
        self.api_key_env = api_key_env
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.extra_body = dict(extra_body or {})
        self.stats: Counter[str] = Counter()  # http_requests, ok, retries, status_<code>, transport_errors
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIBackend(url={self.url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    # -- one request -----------------------------------------------------------------------------------------------

    def _body(self, prompt: Any, params: SamplingParams, sample: int) -> bytes:
        body = {"model": self.model, "messages": messages_of(prompt), "temperature": params.temperature,
                "top_p": params.top_p, "max_tokens": params.max_new_tokens,
                "seed": params.seed + sample}  # distinct seeds: a seeded server would otherwise repeat one sample
        if params.stop:
            body["stop"] = list(params.stop)
        body.update(self.extra_body)
        return json.dumps(body).encode()

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return redact_text(text.replace(key, "***") if key else text)

    def _count(self, what: str) -> None:
        with self._lock:
            self.stats[what] += 1

    def _post(self, data: bytes) -> dict[str, Any]:
        # the key lives only in this frame and urllib's, never in a caller's locals or an error message
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            headers["Authorization"] = f"Bearer {os.environ.get(self.api_key_env, '')}"
        elif self._basic_auth:
            headers["Authorization"] = self._basic_auth
        with urllib.request.urlopen(urllib.request.Request(self._request_url, data=data, headers=headers),
                                    timeout=self.timeout_s) as response:
            return json.loads(response.read())

    def request(self, prompt: Any, params: SamplingParams, sample: int = 0,
                cancel: threading.Event | None = None) -> Completion:
        """One sample, with retries. A rejected request (400/422: e.g. this prompt is too long) comes back as a
        Completion with finish_reason "error", once some request has succeeded; before that, as after a fatal status
        or exhausted retries, it raises APIError."""
        data = self._body(prompt, params, sample)
        cancel = cancel or threading.Event()
        attempt = 0
        while True:
            wait_s, problem = None, ""
            self._count("http_requests")
            try:
                completion = parse_reply(self._post(data))
                self._count("ok")
                return completion
            except urllib.error.HTTPError as e:
                status, text = e.code, self._scrub(error_text(e.read().decode("utf-8", "replace"))[:BODY_CHARS])
                e.close()
                self._count(f"status_{status}")
                if status in FATAL_STATUS:
                    raise APIError(f"{self.url} answered {status}: {text}") from None
                if status not in RETRY_STATUS:
                    if not self.stats["ok"]:  # nothing has worked yet: the request itself is wrong, not this prompt
                        raise APIError(f"{self.url} rejected the first requests ({status}): {text}") from None
                    log.warning("%s rejected a request (%s): %s", self.url, status, text)
                    return Completion(text="", finish_reason="error")
                wait_s, problem = _retry_after(e.headers.get("Retry-After")), f"status {status}"
            except (TimeoutError, ConnectionError, http.client.HTTPException, urllib.error.URLError,
                    json.JSONDecodeError, KeyError, IndexError) as e:
                problem = type(e).__name__ if not isinstance(e, urllib.error.URLError) else f"URLError {e.reason}"
                self._count("transport_errors")
            if attempt == self.max_retries:
                raise APIError(f"{self.url}: giving up after {attempt + 1} attempts, last: {self._scrub(problem)}")
            backoff = random.uniform(0, min(self.backoff_max_s, self.backoff_s * 2 ** attempt))  # full jitter
            delay = max(backoff, wait_s) if wait_s is not None else backoff
            self._count("retries")
            log.warning("%s: %s, retry %d/%d in %.2fs", self.url, self._scrub(problem), attempt + 1, self.max_retries,
                        delay)
            if cancel.wait(delay):
                raise APIError(f"{self.url}: cancelled")
            attempt += 1

    # -- many prompts ----------------------------------------------------------------------------------------------

    def generate_iter(self, prompts: Iterable[Any], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        """(prompt index, its n samples) as each prompt finishes, in completion order. Prompts are read lazily, so a
        caller can stop feeding them (e.g. at a cost limit) and still receive everything already requested."""
        todo: Iterator[tuple[int, int, Any]] = ((i, j, p) for i, p in enumerate(prompts) for j in range(params.n))
        pending: dict[Future, tuple[int, int]] = {}
        partial: dict[int, list[Completion | None]] = {}
        cancel = threading.Event()
        pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="openai")
        try:
            while True:
                while len(pending) < self.max_concurrency:  # refill only after the last results were consumed
                    item = next(todo, None)
                    if item is None:
                        break
                    i, j, prompt = item
                    partial.setdefault(i, [None] * params.n)
                    pending[pool.submit(self.request, prompt, params, j, cancel)] = (i, j)
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                finished = []
                for future in done:
                    i, j = pending.pop(future)
                    partial[i][j] = future.result()
                    if all(c is not None for c in partial[i]):
                        finished.append(i)
                for i in sorted(finished):
                    yield i, partial.pop(i)  # type: ignore[misc]
        finally:
            cancel.set()  # requests still sleeping between retries give up; the caller is gone
            pool.shutdown(wait=False, cancel_futures=True)

    def generate(self, prompts: list[Any], params: SamplingParams) -> list[list[Completion]]:
        out: list[list[Completion]] = [[] for _ in prompts]
        for i, completions in self.generate_iter(prompts, params):
            out[i] = completions
        return out
