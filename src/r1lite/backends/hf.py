"""transformers generation, batched: prompts sorted by length, left padding, KV cache, one generate() per batch.

The default backend on CPU and GPU. Compared with one `model.generate` call per sample (what a naive eval loop
does), batching sequences of similar length is what makes it fast: see benchmarks/eval_throughput.py.
"""

from __future__ import annotations

from typing import Any

from r1lite.backends.base import Completion, LocalBackend, SamplingParams


class HFBackend(LocalBackend):
    def __init__(self, model: Any = "smollm2-135m", tokenizer: Any = None, dtype: str | None = "auto",
                 device: str | None = None, batch_size: int = 32, trust_remote_code: bool = False,
                 progress: bool = False, revision: str | None = "main", attn_implementation: str | None = None):
        """`model` is any name r1lite loads (Hub id, folder, GGUF, smollm2-135m, tiny:<arch>, a training output
        folder) or an already loaded model (then pass its tokenizer too). revision, trust_remote_code and
        attn_implementation are the `model:` section's (backends.model_args), used as training uses them."""
        import torch

        from r1lite import models

        if isinstance(model, str):
            revision = revision or "main"
            tokenizer = tokenizer or models.load_tokenizer(model, revision, trust_remote_code=trust_remote_code)
            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            model = models.load_inference_model(model, dtype, device, trust_remote_code, revision,
                                                attn_implementation)
        if tokenizer is None:
            raise ValueError("HFBackend: a loaded model needs its tokenizer")
        model.eval()
        tokenizer.padding_side = "left"  # generation continues every row from its last real token
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer, self.batch_size, self.progress = model, tokenizer, batch_size, progress
        eos = model.generation_config.eos_token_id if model.generation_config is not None else None
        eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        self.eos_ids = sorted({*eos, tokenizer.eos_token_id} - {None})

    def generate(self, prompts: list[Any], params: SamplingParams) -> list[list[Completion]]:
        import torch

        encoded = [self.tokenizer(self.render(p), add_special_tokens=False)["input_ids"] for p in prompts]
        # one row per (prompt, sample); longest first so each batch holds similar lengths (little padding)
        rows = sorted(((i, j) for i in range(len(prompts)) for j in range(params.n)),
                      key=lambda r: (-len(encoded[r[0]]), r))
        out: list[list[Completion | None]] = [[None] * params.n for _ in prompts]
        batches = [rows[s:s + self.batch_size] for s in range(0, len(rows), self.batch_size)]
        bar = _progress(len(rows), self.progress)
        for b, batch in enumerate(batches):
            torch.manual_seed(params.seed + b)
            for (i, j), completion in zip(batch, self._generate_batch([encoded[i] for i, _ in batch], params)):
                out[i][j] = completion
            bar.update(len(batch))
        bar.close()
        return out  # type: ignore[return-value]

    def _generate_batch(self, ids: list[list[int]], params: SamplingParams) -> list[Completion]:
        import torch

        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=self.model.device)
        attention = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], device=self.model.device)
        sampling = params.temperature > 0
        kwargs: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "do_sample": sampling,
                                  "pad_token_id": pad, "eos_token_id": self.eos_ids or None}
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=params.stop, tokenizer=self.tokenizer)
        with torch.inference_mode():
            generated = self.model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        completions = []
        for row, prompt in zip(generated[:, width:].tolist(), ids):
            ended = next((k for k, t in enumerate(row) if t in self.eos_ids), None)
            tokens = row[:ended] if ended is not None else row
            count = len(tokens) + (ended is not None)  # EOS counts, as in TRL's completion lengths
            while tokens and tokens[-1] == pad:  # a row that stopped on a stop string is padded, not ended
                tokens = tokens[:-1]
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            stopped = ended is not None
            for s in params.stop:  # generate() stops at the end of the token holding the stop string: cut there
                if s in text:
                    text, stopped = text[:text.index(s) + len(s)], True
                    count = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            completions.append(Completion(text=text, prompt_tokens=len(prompt), completion_tokens=count,
                                          finish_reason="stop" if stopped else "length"))
        return completions


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="generating", unit="sample", disable=not enabled, leave=False)
