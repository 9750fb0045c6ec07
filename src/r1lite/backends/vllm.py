"""vLLM offline generation (GPU, `pip install r1lite[vllm]`): the same contract as the hf backend.

Prompts are rendered with the model's own chat template (LocalBackend.render, not vLLM's chat API) so that budget
forcing can continue raw text exactly as with the hf backend.
"""

from __future__ import annotations

from typing import Any

from r1lite.backends.base import Completion, LocalBackend, SamplingParams


class VLLMBackend(LocalBackend):
    def __init__(self, model: str = "smollm2-135m", dtype: str | None = "auto", tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.9, max_model_len: int | None = None,
                 trust_remote_code: bool = False, seed: int = 0, revision: str | None = "main", **llm_kwargs: Any):
        try:
            import vllm
        except ImportError as e:
            raise ImportError("the vllm backend needs vLLM: pip install 'r1lite[vllm]' (GPU only)") from e
        from r1lite import models

        folder = models.materialize(model)  # GGUF / embedded names become a transformers folder vLLM can read
        revision = revision or "main"
        llm_kwargs.setdefault("tokenizer_revision", revision)  # vLLM's own detokenizer: the same files as ours
        self.tokenizer = models.load_tokenizer(model, revision, trust_remote_code=trust_remote_code)
        self.llm = vllm.LLM(model=folder, revision=revision, dtype="auto" if dtype in (None, "auto") else dtype,
                            tensor_parallel_size=tensor_parallel_size, gpu_memory_utilization=gpu_memory_utilization,
                            max_model_len=max_model_len, trust_remote_code=trust_remote_code, seed=seed,
                            **llm_kwargs)
        self._vllm = vllm

    def generate(self, prompts: list[Any], params: SamplingParams) -> list[list[Completion]]:
        sampling = self._vllm.SamplingParams(n=params.n, temperature=params.temperature,
                                             top_p=params.top_p if params.temperature > 0 else 1.0,
                                             max_tokens=params.max_new_tokens, seed=params.seed,
                                             stop=params.stop or None, include_stop_str_in_output=True)
        outputs = self.llm.generate([self.render(p) for p in prompts], sampling, use_tqdm=True)
        return [[Completion(text=o.text, prompt_tokens=len(out.prompt_token_ids or []),
                            completion_tokens=len(o.token_ids),
                            finish_reason="length" if o.finish_reason == "length" else "stop")
                 for o in out.outputs] for out in outputs]
