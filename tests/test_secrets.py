"""No secret on disk or on screen (issue 24): one redaction rule for every file r1lite writes and every message it
prints, keys planted in every field a user could paste them into, a tiny training run scanned file by file,
checkpoints and training_args.bin included."""

import base64
import json
import logging
from pathlib import Path

import pytest
import yaml
from conftest import json_server

from r1lite.backends.openai import OpenAIBackend, endpoint
from r1lite.cli import main
from r1lite.data.benchmarks import BUNDLED_DIR as DATA
from r1lite.recipe.redaction import REDACTED, redact, redact_text

KEYS = {  # a key of each shape, and the secret part a leak would show
    "openai": "sk-proj-AbCdEf0123456789xyz",
    "groq": "gsk_QwErTy0123456789AbCdEf",
    "hf": "hf_AbCdEfGhIjKlMnOpQrStUv",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "xai": "xai-ZxCvBn0123456789LkJh",
    "bearer": "Bearer eyJhbGciOiJIUzI1NiJ9abc",
}
PASSWORD, QUERY_KEY = "Pa55w0rdSecret", "QueryKey0123456789"


def leaked(text: str) -> list[str]:
    secrets = [k.split()[-1] for k in KEYS.values()] + [PASSWORD, QUERY_KEY]
    return [s for s in secrets if s in text]


@pytest.mark.parametrize("text", [
    *(f"my key is {k}, keep it" for k in KEYS.values()),
    f"http://alice:{PASSWORD}@example.com:8000/v1",
    f"https://gw.example.com/v1?api_key={QUERY_KEY}&x=1",
    f"https://gw.example.com/v1?model=m&token={QUERY_KEY}",
])
def test_one_rule_redacts_every_key_shape_and_url_credential(text):
    clean = redact_text(text)
    assert not leaked(clean) and REDACTED in clean


@pytest.mark.parametrize("text", ["risk-free", "http://127.0.0.1:8000/v1", "task-12345678 done", "hf_short",
                                  "ask_me_anything"])
def test_ordinary_text_is_kept(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("text", [
    "the ring bearer received 12 coins", "sk-olympiad-2019-p0", "data/sk-math-problems.jsonl", "me/sk-math-qwen-0.5b",
    "commit 0123456789abcdef0123456789abcdef01234567",  # a git sha is 40 hex digits, as a W&B key is
    "the bearer of this note, Mr. Longfellowsworthington-Smythe", "xai-grok-style-answers", "hf_datasets_cache_dir",
])
def test_data_that_only_resembles_a_key_is_kept(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("text, secret", [
    ("WANDB_API_KEY=0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
    ("--run_name wandb-0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
    ("wandb login 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
    ("DeepSeek key sk-0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ("curl -H 'Authorization: bearer AbCdEf0123456789GhIjKl'", "AbCdEf0123456789GhIjKl"),
])
def test_wandb_keys_in_context_and_real_key_lengths_are_redacted(text, secret):
    assert secret not in redact_text(text) and REDACTED in redact_text(text)


def test_run_files_keep_data_verbatim_so_resume_keys_survive(tmp_path):
    """Rows are data: ids, prompts and completions, whatever they look like, are written as they are (resume keys
    are made of them); only recipe values, URLs and messages are redacted."""
    from r1lite.jsonl import append_jsonl, read_rows

    rows = [{"id": "sk-olympiad-2019-p0", "key": "xai-ZxCvBn0123456789LkJh::0", "prompt": KEYS["bearer"],
             "response": "the ring bearer received 12 coins"}]
    append_jsonl(tmp_path / "rows.jsonl", rows)
    assert read_rows(tmp_path / "rows.jsonl") == rows


def test_special_tokens_and_model_ids_reach_the_trainer_unchanged(tmp_path):
    """SFTConfig's eos_token / pad_token are settings, not credentials; hub_token alone is dropped from the arguments
    pickled into training_args.bin."""
    from types import SimpleNamespace

    from r1lite.train.runtime import trainer_kwargs

    trainer = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "hub_model_id": "me/sk-math-qwen-0.5b",
               "hub_token": KEYS["hf"], "run_name": KEYS["groq"]}
    kwargs = trainer_kwargs(SimpleNamespace(trainer=trainer), tmp_path)
    assert kwargs["eos_token"] == "<|im_end|>" and kwargs["pad_token"] == "<|endoftext|>"
    assert kwargs["hub_model_id"] == "me/sk-math-qwen-0.5b" and "hub_token" not in kwargs
    assert kwargs["run_name"] == REDACTED
    recorded = redact(trainer)
    assert recorded["eos_token"] == "<|im_end|>" and recorded["pad_token"] == "<|endoftext|>"
    assert recorded["hub_token"] == REDACTED


def test_fields_named_like_secrets_are_blanked():
    tree = {"hub_token": "anything", "api_key": "x", "password": "p", "tokens": 5, "run_name": KEYS["groq"]}
    assert redact(tree) == {"hub_token": REDACTED, "api_key": REDACTED, "password": REDACTED, "tokens": 5,
                            "run_name": REDACTED}


def run_cli(capfd, *argv):
    rc = main(list(argv))
    out, err = capfd.readouterr()
    return rc, out + err


def grpo_raw(tmp_path, **extra) -> dict:
    return {"model": {"model_name_or_path": "tiny:qwen2"},
            "data": {"sources": [{"path": "synthetic:arithmetic"}]},
            "rewards": [{"name": "accuracy"}],
            "trainer": {"per_device_train_batch_size": 2, "num_generations": 2, "output_dir": str(tmp_path / "out")},
            **extra}


def write(tmp_path, raw) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.mark.parametrize("backend_args, field", [
    ({"api_key_env": KEYS["groq"]}, "difficulty_filter.backend_args.api_key_env"),
    ({"api_key_env": KEYS["openai"]}, "difficulty_filter.backend_args.api_key_env"),
    ({"api_key": KEYS["hf"]}, "difficulty_filter.backend_args.api_key: a key never goes into a recipe"),
])
def test_difficulty_filter_backend_args_are_checked_like_eval(tmp_path, capfd, backend_args, field):
    raw = grpo_raw(tmp_path, difficulty_filter={"backend": "openai",
                                                "backend_args": {"base_url": "http://127.0.0.1:9/v1", **backend_args}})
    rc, text = run_cli(capfd, "check", "--config", write(tmp_path, raw), "--stage", "grpo")
    assert rc == 2 and field in text and "Traceback" not in text and not leaked(text), text


def test_a_key_pasted_as_the_variable_name_is_never_echoed(tmp_path, capfd):
    raw = {"model": "m", "backend": "openai", "benchmarks": ["gsm8k"], "data_dir": str(DATA),
           "backend_args": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": KEYS["groq"]},
           "output_dir": str(tmp_path / "e")}
    rc, text = run_cli(capfd, "eval", "--config", write(tmp_path, raw))
    assert rc == 2 and "backend_args.api_key_env" in text and not leaked(text), text
    assert not (tmp_path / "e").exists()


def test_endpoint_builds_the_url_before_the_query_and_moves_credentials_to_a_header():
    url, auth = endpoint(f"https://gw.example.com/v1/?api_key={QUERY_KEY}")
    assert url == f"https://gw.example.com/v1/chat/completions?api_key={QUERY_KEY}" and auth is None
    url, auth = endpoint(f"http://alice:{PASSWORD}@example.com:8000/v1")
    assert url == "http://example.com:8000/v1/chat/completions"
    assert base64.b64decode(auth.split()[1]).decode() == f"alice:{PASSWORD}"
    backend = OpenAIBackend(f"http://alice:{PASSWORD}@example.com:8000/v1?api_key={QUERY_KEY}", "m", api_key_env=None)
    assert not leaked(repr(backend) + backend.url)


def scan(folder: Path) -> dict[str, list[str]]:
    """Every file under folder (bytes, so pickles and binaries count) -> the secrets found in it."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            hits = leaked(path.read_bytes().decode("latin-1"))
            if hits:
                found[str(path)] = hits
    return found


def test_eval_through_a_url_with_credentials_leaks_nothing(tmp_path, capfd, caplog):
    seen = []

    def flaky(body, request):  # fails each first request with 503, then answers; records paths and auth
        seen.append((request.path, request.headers.get("Authorization")))
        return (503, {"detail": "busy"}) if len(seen) % 2 else (200, {
            "choices": [{"message": {"content": "\\boxed{2}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2}})

    bench = tmp_path / "mine.jsonl"
    bench.write_text(json.dumps({"problem": "1+1?", "answer": "2"}) + "\n")
    out = tmp_path / "eval"
    with json_server(flaky) as url:
        secret_url = f"http://alice:{PASSWORD}@{url.removeprefix('http://')}?api_key={QUERY_KEY}"
        raw = {"model": "served", "backend": "openai", "benchmarks": ["mine"],
               "benchmark_args": {"mine": {"path": str(bench)}}, "system_prompt": f"use {KEYS['xai']} please",
               "backend_args": {"base_url": secret_url, "api_key_env": None, "backoff_s": 0.01},
               "output_dir": str(out)}
        with caplog.at_level(logging.INFO):
            rc, text = run_cli(capfd, "eval", "--config", write(tmp_path, raw))
    assert rc == 0, text
    assert seen[0][0] == f"/v1/chat/completions?api_key={QUERY_KEY}"
    assert base64.b64decode(seen[0][1].split()[1]).decode() == f"alice:{PASSWORD}"
    assert "retry 1/" in caplog.text  # the retry was logged, with the URL redacted
    assert not leaked(text + caplog.text), text + caplog.text
    assert not scan(out)


def test_training_run_with_keys_in_every_field_leaks_nothing(tmp_path, capfd, caplog):
    """Keys in the run name, hub token, hub model id, system prompt and a reward's args (one function twice, so its
    args name its metrics): no file of the run folder (checkpoints and training_args.bin included), no log line and
    no printed line holds one."""
    import torch

    (tmp_path / "keyed_reward.py").write_text("def keyed(completions, endpoint=None, **kw):\n"
                                              "    return [0.0] * len(completions)\n")
    raw = grpo_raw(tmp_path)
    raw["data"]["system_prompt"] = f"Think. {KEYS['openai']}"
    for url in (f"http://alice:{PASSWORD}@h.example/v1", f"http://h.example/v1?api_key={QUERY_KEY}"):
        raw["rewards"].append({"name": f"{tmp_path / 'keyed_reward.py'}:keyed", "args": {"endpoint": url}})
    raw["trainer"].update(max_completion_length=4, max_steps=1, save_steps=1, report_to="none",
                          hub_model_id=f"me/{KEYS['xai']}")
    with caplog.at_level(logging.INFO):
        rc, text = run_cli(capfd, "grpo", "--config", write(tmp_path, raw), "--run_name", KEYS["groq"],
                           "--hub_token", KEYS["hf"])
    assert rc == 0, text
    out = tmp_path / "out"
    assert (out / "checkpoint-1" / "training_args.bin").is_file()
    assert not scan(out), scan(out)
    assert not leaked(text + caplog.text)
    args = torch.load(out / "checkpoint-1" / "training_args.bin", weights_only=False)
    assert args.hub_token is None and REDACTED in args.run_name
