"""A tokenizer with no chat template gets ChatML the TRL way (clone_chat_template): markers as special tokens, eos
set, the model's embeddings and eos matched; not ChatML markers spelled out as plain text."""

import string

import pytest

from r1lite.models import model_names, models
from r1lite.models.models import ModelArgs


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    """A base model whose tokenizer knows no chat template and no ChatML marker (as e.g. Llama-3.2-1B base)."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers import models as tok_models
    from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<unk>", "</s>"] + sorted(set(string.printable)))}
    backend = Tokenizer(tok_models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="</s>", unk_token="<unk>")
    config = AutoConfig.for_model("qwen2", vocab_size=len(tok), eos_token_id=tok.eos_token_id, bos_token_id=None,
                                  **model_names.TINY_ARCHS["qwen2"])
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("base")
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def test_markers_become_special_tokens_and_eos(base_folder):
    tok = models.load_tokenizer(base_folder)
    assert tok.chat_template == models.CHAT_TEMPLATE and tok.eos_token == "<|im_end|>"
    ids = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    encoded = tok(ids, add_special_tokens=False)["input_ids"]
    assert encoded.count(tok.convert_tokens_to_ids("<|im_start|>")) == 2  # one id per marker, not 12 characters
    assert len(tok("<|im_end|>", add_special_tokens=False)["input_ids"]) == 1


def test_model_grows_to_the_tokenizer_and_stops_at_im_end(base_folder):
    tok = models.load_tokenizer(base_folder)
    model = models.load_model(ModelArgs(model_name_or_path=base_folder, dtype="float32"))
    assert model.get_input_embeddings().num_embeddings == len(tok)
    assert model.generation_config.eos_token_id == model.config.eos_token_id == tok.eos_token_id

