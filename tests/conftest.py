"""Shared test pieces."""

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from r1lite import rewards


class DigitShare:
    """Easily learnable: the share of digits in the completion (a random tiny model starts near 10/100)."""

    __name__ = "digit_share"

    def __call__(self, completions, **kwargs):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [sum(ch.isdigit() for ch in t) / max(len(t), 1) for t in texts]


@pytest.fixture
def digit_reward(monkeypatch):
    """Registers `digit_share` (DigitShare) as a reward name for the test."""
    monkeypatch.setitem(rewards.REWARDS, "digit_share", lambda: DigitShare())


@pytest.fixture
def model_loads(monkeypatch):
    """The keyword arguments of every AutoModelForCausalLM.from_pretrained call (the transformers boundary), which
    then loads as asked: what a backend built from a recipe's `model:` section really passes to transformers."""
    from transformers import AutoModelForCausalLM

    calls = []
    real = AutoModelForCausalLM.from_pretrained.__func__

    def recording(cls, name, **kwargs):
        calls.append(kwargs)
        return real(cls, name, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(recording))
    return calls


@pytest.fixture
def fake_vllm(monkeypatch):
    """vLLM is GPU-only and not installed here: a stand-in module with vLLM's interface. Returns what it saw:
    "llm" (the LLM(...) keyword arguments), "prompts" and "sampling" (of the last generate call)."""
    import sys
    import types

    seen = {}

    class LLM:
        def __init__(self, **kwargs):
            seen["llm"] = kwargs

        def generate(self, prompts, sampling, use_tqdm=True):
            seen["prompts"], seen["sampling"] = prompts, sampling
            sample = types.SimpleNamespace(text="\\boxed{4}", token_ids=[1, 2, 3], finish_reason="length")
            return [types.SimpleNamespace(prompt_token_ids=[7] * 5, outputs=[sample] * sampling.n) for _ in prompts]

    fake = types.ModuleType("vllm")
    fake.LLM, fake.SamplingParams = LLM, lambda **kw: types.SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    return seen


@contextlib.contextmanager
def json_server(respond):
    """A loopback HTTP server answering every POST with JSON; yields its OpenAI-style base URL (`.../v1`).
    `respond(body, request)` gets the request's JSON body and its handler (for `.path`, `.headers`) and returns
    (status, reply) or (status, reply, extra headers); it runs on the request's own thread, so it may sleep."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            status, reply, *headers = respond(json.loads(self.rfile.read(int(self.headers["Content-Length"]))), self)
            data = json.dumps(reply).encode()
            try:
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                             **(headers[0] if headers else {})}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting (a timeout under test)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()
