"""Text generation backends shared by `r1lite eval` and `r1lite generate`.

A backend turns prompts into completions; nothing else. Each lives in its own module and is built by name:

    backend = make_backend("hf", model="smollm2-135m")          # transformers, batched
    backend = make_backend("vllm", model="Qwen/Qwen2.5-1.5B")    # when vLLM is installed
    backend = make_backend("openai", base_url=..., model=..., api_key_env="DEEPSEEK_API_KEY")
    backend = make_backend("hf", **model_args("hf", recipe.model))  # a recipe's whole `model:` section
    outs = backend.generate(prompts, SamplingParams(n=4, max_new_tokens=1024))  # outs[i][j]: sample j of prompt i

A prompt is a chat (list of {"role", "content"} dicts; the backend applies the chat template) or a str (already
templated text that is continued as is; used by budget forcing).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class SamplingParams:
    n: int = 1  # samples per prompt
    temperature: float = 0.6  # DeepSeek-R1's evaluation settings
    top_p: float = 0.95
    max_new_tokens: int = 1024
    seed: int = 0
    stop: list[str] = field(default_factory=list)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "stop" (ended by EOS or a stop string) or "length" (hit max_new_tokens)
    reasoning: str | None = None  # a separate reasoning channel (DeepSeek API's reasoning_content), when there is one


class SamplingWatch:
    """Notices a server that ignores the sampling parameters: with temperature > 0 and n > 1, every prompt of a batch
    (at least `min_prompts`) came back with n identical samples. transformers serve does this unless the model's
    generation_config samples; pass@k and maj@k then measure one sample k times and generate drops the copies."""

    HINT = ("the backend ignores temperature/top_p/seed: all {n} samples were identical for each of {k} prompts at "
            "temperature {t}. transformers serve samples only when the model's generation_config.json has "
            "\"do_sample\": true (model folders r1lite writes set it; add it to this model's folder and restart the "
            "server); for another server, check that it honours temperature, top_p and seed")

    def __init__(self, params: SamplingParams, min_prompts: int = 3):
        self.watching = params.n > 1 and params.temperature > 0  # off once a prompt shows distinct samples
        self.params, self.min_prompts, self.identical = params, min_prompts, 0

    def add(self, samples: list[list[Completion]]) -> str | None:
        """Feed finished prompts' samples; returns the warning text, once, when the pattern is clear."""
        if not self.watching:
            return None
        for completions in samples:
            texts = {c.text for c in completions if c.finish_reason != "error"}
            if len(texts) > 1:
                self.watching = False
                return None
            self.identical += len(texts) == 1
        if self.identical < self.min_prompts:
            return None
        self.watching = False
        return self.HINT.format(n=self.params.n, k=self.identical, t=self.params.temperature)


class Backend(Protocol):
    def generate(self, prompts: list[Any], params: SamplingParams) -> list[list[Completion]]: ...


class LocalBackend:
    """What the local backends (hf, vllm) share: their model's tokenizer renders the prompts, so budget forcing
    continues the very text the model saw."""

    tokenizer: Any

    def render(self, prompt: Any) -> str:
        """A chat through the chat template (ending where the assistant starts); a str is already rendered."""
        if isinstance(prompt, str):
            return prompt
        return self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)


class PromptFeed:
    """Prompts a backend pulls one at a time, which the caller can stop (a cost limit): requests already made still
    come back, no new one starts. Defined here, beside what pulls it, so pulling never runs the caller's code."""

    def __init__(self, prompts: list[Any]):
        self.prompts, self.pulled, self.stopped = prompts, 0, False

    def __iter__(self) -> PromptFeed:
        return self

    def __next__(self) -> Any:
        if self.stopped or self.pulled == len(self.prompts):
            raise StopIteration
        self.pulled += 1
        return self.prompts[self.pulled - 1]

    def stop(self) -> None:
        self.stopped = True


def model_args(backend: str, model: Any) -> dict[str, Any]:
    """A backend's model arguments from a recipe's `model:` section (models.ModelArgs): what eval, generate and the
    difficulty filter all pass, so the local model they load is the one training loads (same revision, remote code,
    attention). An openai backend reaches a served model by its name; nothing else of the section applies there."""
    args: dict[str, Any] = {"model": model.model_name_or_path}
    if backend in ("hf", "vllm"):
        args.update(revision=model.model_revision, dtype=model.dtype, trust_remote_code=model.trust_remote_code)
    if backend == "hf":  # vLLM chooses its attention kernels itself
        args["attn_implementation"] = model.attn_implementation
    return args


# name -> "module:factory"; modules are imported only when their backend is asked for
BACKENDS = {
    "hf": "r1lite.backends.hf:HFBackend",
    "vllm": "r1lite.backends.vllm:VLLMBackend",
    "openai": "r1lite.backends.openai:OpenAIBackend",
}


def check_backend_args(backend: str, args: dict[str, Any], where: str = "backend_args",
                       also: tuple[str, ...] = ()) -> None:
    """A recipe's backend_args, for every stage that has them (eval, the difficulty filter). A key never belongs in a
    recipe (it would be echoed and written to resolved_recipe.yaml): only the name of the environment variable that
    holds it. The messages never repeat a value, which may be the key itself. `also`: options besides the backend's
    own (the difficulty filter's backend_args may name the served policy's `model`)."""
    from r1lite.recipe import ConfigError, check_env_name

    if "api_key" in args:
        raise ConfigError(f"{where}.api_key: a key never goes into a recipe or command line; export it in an "
                          f"environment variable and set {where}.api_key_env to that variable's name")
    check_env_name(args.get("api_key_env"), f"{where}.api_key_env")
    if backend == "openai" and not args.get("base_url"):
        raise ConfigError(f"{where}.base_url: required for the openai backend (e.g. http://127.0.0.1:8000/v1)")
    if backend == "openai":
        module, factory = BACKENDS["openai"].split(":")
        options = inspect.signature(getattr(importlib.import_module(module), factory)).parameters
        allowed = [p for p in options if p != "model" or p in also]
        for key in args:
            if key not in allowed:
                raise ConfigError(f"{where}.{key}: not an option of the openai backend; allowed values: "
                                  f"{', '.join(allowed)}")


def make_backend(name: str, **kwargs: Any) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"backend {name!r} is unknown; allowed values: {', '.join(BACKENDS)}")
    module, factory = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), factory)(**kwargs)


def chunk_seed(seed: int, budget: int | None, index: int) -> int:
    """A SamplingParams seed per (budget, chunk of prompts) that does not depend on what a previous, killed run
    finished: eval and the difficulty filter sample a resumed pass as an uninterrupted one would."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{budget}/{index}".encode()).digest()[:4], "little")
