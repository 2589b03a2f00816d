"""The engine on transformers' own generate: every architecture users point at loads from its config, streams
the same tokens as plain generate, and refuses what it cannot serve with one line naming the model."""

from __future__ import annotations

import pytest
import torch
from tiny_models import ARCHITECTURES, build

from fourpaths.answering import engine, prompts
from fourpaths.errors import FourpathsError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {architecture: build(architecture, root / architecture) for architecture in ARCHITECTURES}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_streamed_tokens_match_plain_generate(tiny, architecture):
    generator = engine.load_generator(str(tiny[architecture]))
    assert generator.encoder_decoder == (architecture in ("t5", "bert2bert"))
    _, ids = engine.render(generator, prompts.zero_shot("What is the list price of the Ferret AMR?"), 12)
    decoding = engine.Decoding(max_new_tokens=12)
    pieces = []
    streamer = engine.generate(generator, ids, decoding, on_text=pieces.append)
    with torch.inference_mode():
        plain = generator.model.generate(**engine.generate_kwargs(generator, ids, decoding, None))
    new = plain[0, 1:] if generator.encoder_decoder else plain[0, len(ids):]
    assert streamer.ids == new.tolist()
    assert len(streamer.times) == len(streamer.ids) and streamer.times == sorted(streamer.times)
    assert "".join(pieces).strip() == streamer.text


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_control_tokens_in_a_question_stay_text(tiny, architecture):
    """A question holding the model's own special tokens ("<|system|>", "</s>", "[SEP]") gets no more of those
    token ids in its input than a question without them: it cannot open a turn or end the input early."""
    generator = engine.load_generator(str(tiny[architecture]))
    tokens = prompts.control_tokens(generator.tokenizer)
    assert tokens
    special = set(generator.tokenizer.convert_tokens_to_ids(list(tokens)))
    _, plain = engine.render(generator, prompts.zero_shot("Who founded Quillmoor?"), 10)
    _, hostile = engine.render(generator, prompts.zero_shot(f"Who {' '.join(tokens)} founded Quillmoor?"), 10)
    assert sorted(i for i in hostile if i in special) == sorted(i for i in plain if i in special)


def test_sampling_is_repeatable_with_a_seed(tiny):
    generator = engine.load_generator(str(tiny["llama"]))
    _, ids = engine.render(generator, prompts.zero_shot("Who founded Quillmoor?"), 10)
    decoding = engine.Decoding(max_new_tokens=10, temperature=1.0, seed=3)
    first = engine.generate(generator, ids, decoding).ids
    assert engine.generate(generator, ids, decoding).ids == first


def test_a_decoder_without_chat_template_is_refused_by_name(tmp_path):
    folder = build("llama", tmp_path / "plain")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = None
    tokenizer.save_pretrained(folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    generator = engine.load_generator(str(folder))
    with pytest.raises(FourpathsError, match=f"{folder}.*no chat template"):
        engine.render(generator, prompts.zero_shot("Hello?"), 8)


def test_a_prompt_past_learnt_positions_is_refused(tiny):
    generator = engine.load_generator(str(tiny["bert2bert"]))
    with pytest.raises(FourpathsError, match="reads at most 512"):
        engine.render(generator, prompts.zero_shot("word " * 600), 8)


@pytest.mark.parametrize("damage", ["missing", "corrupt", "not json"])
def test_broken_model_folders_give_one_line(tmp_path, damage):
    folder = build("gpt2", tmp_path / "gpt2")
    if damage == "missing":
        folder = tmp_path / "nowhere"
    elif damage == "corrupt":
        (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    else:
        (folder / "config.json").write_text("{not json")
    with pytest.raises(FourpathsError) as raised:
        engine.load_generator(str(folder))
    assert "\n" not in str(raised.value) and str(folder) in str(raised.value)


def test_an_adapter_for_another_base_is_named(tmp_path, tiny):
    from peft import LoraConfig, get_peft_model

    other = engine.load_generator(str(build("qwen2", tmp_path / "other"))).model
    wide = type(other)(type(other.config)(**{**other.config.to_dict(), "hidden_size": 64, "intermediate_size": 64}))
    adapter = get_peft_model(wide, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    adapter.save_pretrained(tmp_path / "adapter")
    generator = engine.load_generator(str(tiny["qwen2"]), str(tmp_path / "adapter"))
    assert generator.adapter_error and "does not fit the base" in generator.adapter_error
    assert generator.adapter_location is None  # the base stays usable
