"""The streaming decode loop against transformers' own `generate` (parity), and its clock."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from fourpaths.generation import Clock, IncrementalDecoder, Row, Sampling, baseline_generate, stream_tokens


def _collect(model, rows, sampling, pad_id, stop_ids):
    tokens = {index: [] for index in range(len(rows))}
    finished = set()
    for step in stream_tokens(model, rows, sampling, stop_ids):
        assert step.row not in finished, "no token after a row finished"
        if step.token_id is None:
            finished.add(step.row)
        else:
            tokens[step.row].append(step.token_id)
    assert finished == set(range(len(rows)))
    return tokens


def _model_with_random_adapter(micro_models):
    model = AutoModelForCausalLM.from_pretrained(micro_models["base"], use_safetensors=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(model, config, adapter_name="lora").eval(), tokenizer


def test_batched_mixed_adapter_stream_matches_generate_row_by_row(micro_models):
    model, tokenizer = _model_with_random_adapter(micro_models)
    prompts = ["What is the payload?", "A much longer prompt about leave policies and offices", "Hi"]
    rows = [Row(tokenizer(p)["input_ids"], adapter) for p, adapter in zip(prompts, [None, "lora", None])]
    sampling = Sampling(max_new_tokens=10)
    streamed = _collect(model, rows, sampling, tokenizer.pad_token_id, {tokenizer.eos_token_id})
    for index, row in enumerate(rows):
        reference, _ = baseline_generate(model, row.prompt_ids, sampling, tokenizer.pad_token_id,
                                         tokenizer.eos_token_id, row.adapter)
        assert streamed[index] == reference


def test_adapter_changes_the_output(micro_models):
    model, tokenizer = _model_with_random_adapter(micro_models)
    ids = tokenizer("What is the payload of the robot?")["input_ids"]
    with torch.inference_mode():
        plain = model(input_ids=torch.tensor([ids]), adapter_names=["__base__"]).logits
        adapted = model(input_ids=torch.tensor([ids]), adapter_names=["lora"]).logits
    assert not torch.allclose(plain, adapted)


def test_sampling_is_reproducible_for_a_seed_and_varies_across_seeds(micro_models):
    model = AutoModelForCausalLM.from_pretrained(micro_models["base"], use_safetensors=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    rows = [Row(tokenizer("Tell me about the office")["input_ids"])]
    runs = {seed: [_collect(model, rows, Sampling(12, 1.5, seed), tokenizer.pad_token_id, set())[0] for _ in range(2)]
            for seed in (1, 2, 3)}
    assert all(first == second for first, second in runs.values())
    assert len({tuple(first) for first, _ in runs.values()}) > 1


def test_stop_token_ends_a_row_without_emitting_it(micro_models):
    model = AutoModelForCausalLM.from_pretrained(micro_models["base"], use_safetensors=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    rows = [Row(tokenizer("Hello")["input_ids"])]
    first = _collect(model, rows, Sampling(5), tokenizer.pad_token_id, set())[0][0]
    stopped = _collect(model, rows, Sampling(5), tokenizer.pad_token_id, {first})[0]
    assert stopped == []


def test_incremental_decoder_pieces_add_up_to_the_full_text(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    text = "Quillmoor's Ferret costs £24,500 — café ✓"
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.add(token) for token in tokenizer(text, add_special_tokens=False)["input_ids"]]
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_clock_measures_first_token_total_and_rate():
    clock = Clock(started=10.0)
    clock.token(10.2)
    clock.token(10.3)
    clock.finish(10.5)
    assert round(clock.ttft_ms) == 200
    assert round(clock.total_ms) == 500
    assert clock.new_tokens == 2
    assert round(clock.tokens_per_s, 3) == 4.0


def test_gated_adapter_gives_each_row_exactly_its_own_logits_and_restores_the_scales(micro_models):
    from fourpaths.row_adapters import adapted_layers, gated_adapter

    model, tokenizer = _model_with_random_adapter(micro_models)
    ids = torch.tensor([tokenizer("Which office opens first?")["input_ids"]] * 2)
    with torch.no_grad():
        with_adapter = model(input_ids=ids[:1]).logits
        with model.disable_adapter():
            bare = model(input_ids=ids[:1]).logits
        scales = [layer.scaling["lora"] for layer in adapted_layers(model, "lora")]
        with gated_adapter(model, "lora", [False, True]):
            mixed = model(input_ids=ids).logits
    assert not torch.equal(bare, with_adapter), "the random adapter must change the output for this to test anything"
    assert torch.allclose(mixed[0], bare[0], atol=1e-5)
    assert torch.allclose(mixed[1], with_adapter[0], atol=1e-5)
    assert [layer.scaling["lora"] for layer in adapted_layers(model, "lora")] == scales
    with pytest.raises(RuntimeError), gated_adapter(model, "lora", [True, False]):
        raise RuntimeError("a failing forward")
    assert [layer.scaling["lora"] for layer in adapted_layers(model, "lora")] == scales
