"""Text generation backends (hf, vllm, openai), built by name: `make_backend("hf", model=...)`. See `base`."""

from r1lite.backends.base import (
    BACKENDS,
    Backend,
    Completion,
    PromptFeed,
    SamplingParams,
    SamplingWatch,
    check_backend_args,
    chunk_seed,
    make_backend,
    model_args,
)
from r1lite.backends.openai import APIError, OpenAIBackend

__all__ = ["BACKENDS", "APIError", "Backend", "Completion", "OpenAIBackend", "PromptFeed",
           "SamplingParams", "SamplingWatch", "check_backend_args", "chunk_seed", "make_backend", "model_args"]
