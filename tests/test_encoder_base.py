"""A base started from a pretrained encoder (the `from-encoder` stage): recipe, decoding, LoRA, positions, paths."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoTokenizer

from fourpaths import prompts
from fourpaths.ask import Trace, ask
from fourpaths.errors import FourpathsError
from fourpaths.generation import Row, Sampling, baseline_generate, stream_tokens
from fourpaths.models import check_adapter_fits, load_base_with_adapter, load_causal_lm
from fourpaths.paths import PATH_IDS
from fourpaths.paths.base import AnswerPath
from fourpaths.paths.rag import RagPath
from fourpaths.training.copy_data import SPANS_PER_ROW, text_spans
from fourpaths.training.encoder_start import causal_lm_from_encoder
from fourpaths.training.encoding import IGNORE, encode_text
from fourpaths.training.reading_eval import ANSWER_ROOM, held_out_pairs, prompt_length


def test_from_encoder_stage_writes_a_causal_base_that_started_from_the_encoder(micro_encoder_models):
    model, tokenizer = load_causal_lm(str(micro_encoder_models["base"]))
    assert type(model).__name__ == "BertLMHeadModel" and model.config.is_decoder
    assert tokenizer.eos_token == "[SEP]" and tokenizer.chat_template
    assert not list(micro_encoder_models["base"].glob("*.bin"))
    summary = json.loads((micro_encoder_models["base"] / "training_summary.json").read_text())
    assert [stage["stage"] for stage in summary["stages"]] == ["from-encoder", "encoder-reading"]
    card = (micro_encoder_models["base"] / "README.md").read_text()
    assert "Stage 1: from-encoder" in card and "Stage 2: encoder-reading" in card
    # Four small steps move the weights a little; a fresh initialisation would be nowhere near the encoder's.
    encoder = load_file(micro_encoder_models["encoder"] / "model.safetensors")
    start = next(value for key, value in encoder.items() if key.endswith("position_embeddings.weight"))
    trained = model.bert.embeddings.position_embeddings.weight.detach()
    assert 0 < float((trained - start).abs().max()) < 0.01


def test_span_copies_come_from_anywhere_in_their_text_and_only_the_spans_are_learnt(micro_encoder_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_encoder_models["encoder"])
    starts = set()
    for index in range(20):
        ids, labels = text_spans(tokenizer, 0, index)
        assert (ids, labels) == text_spans(tokenizer, 0, index)  # a resumed run sees the same rows
        assert len(ids) == len(labels) and ids.count(tokenizer.sep_token_id) == SPANS_PER_ROW
        text = ids[1:ids.index(tokenizer.sep_token_id)]
        pieces = _split(ids[len(text) + 1:], tokenizer.sep_token_id)
        learnt = [label for label in labels if label != IGNORE]
        assert learnt == [token for span in pieces for token in span[1:]]
        for span in pieces:
            at = next(i for i in range(len(text)) if text[i:i + len(span)] == span)
            starts.add(at)
    assert len(starts) > 10  # not always the start of the text: position alone cannot predict them


def _split(ids: list[int], separator: int) -> list[list[int]]:
    pieces: list[list[int]] = []
    for token in ids:
        if token == separator:
            pieces.append([])
        else:
            pieces[-1].append(token)
    return pieces


def test_encoder_is_decoded_causally_each_token_blind_to_later_ones(micro_encoder_models):
    model, tokenizer = causal_lm_from_encoder(micro_encoder_models["encoder"])
    ids = torch.tensor([tokenizer("the loomwork price changes in october")["input_ids"]])
    changed = ids.clone()
    changed[0, -2] = tokenizer.convert_tokens_to_ids("june")
    with torch.inference_mode():
        before, after = model(ids).logits, model(changed).logits
    assert torch.allclose(before[0, :-2], after[0, :-2], atol=1e-5)
    assert not torch.allclose(before[0, -2:], after[0, -2:])


def test_batched_stream_matches_generate_on_the_encoder_base(micro_encoder_models):
    model, tokenizer = load_causal_lm(str(micro_encoder_models["base"]))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=False)
    model = get_peft_model(model, config, adapter_name="lora").eval()
    texts = ["What is the payload?", "A much longer prompt about leave policies and offices", "Hi"]
    rows = [Row(tokenizer(t)["input_ids"], adapter) for t, adapter in zip(texts, [None, "lora", None])]
    sampling = Sampling(max_new_tokens=8)
    streamed = {index: [] for index in range(len(rows))}
    for step in stream_tokens(model, rows, sampling, {tokenizer.eos_token_id}):
        if step.token_id is not None:
            streamed[step.row].append(step.token_id)
    for index, row in enumerate(rows):
        reference, _ = baseline_generate(model, row.prompt_ids, sampling, tokenizer.pad_token_id,
                                         tokenizer.eos_token_id, row.adapter)
        assert streamed[index] == reference


def test_lora_recipe_adapts_every_layer_of_the_encoder_base(micro_encoder_models):
    config = json.loads((micro_encoder_models["lora"] / "adapter_config.json").read_text())
    assert {"query", "key", "value", "dense", "word_embeddings", "decoder"} <= set(config["target_modules"])
    model, _ = load_causal_lm(str(micro_encoder_models["base"]))
    check_adapter_fits(model, str(micro_encoder_models["lora"]))
    loaded = load_base_with_adapter(str(micro_encoder_models["base"]), str(micro_encoder_models["lora"]))
    assert loaded.adapter_error is None and loaded.adapter_facts["rank"] > 0


def test_rag_keeps_the_best_passages_that_fit_the_learnt_positions(micro_encoder_models):
    base = load_base_with_adapter(str(micro_encoder_models["base"]), None)
    long_text = " ".join(["the ferret carries two hundred kilograms across the warehouse floor"] * 25)
    passages = [prompts.Passage(n, f"docs/doc-{n}.md", long_text) for n in (1, 2, 3)]
    kept, messages, _, ids = RagPath()._fit_passages(base, "What does the Ferret carry?", passages, 48)
    assert 1 <= kept < 3
    assert len(ids) + 48 <= base.model.config.max_position_embeddings
    assert "[1]" in messages[-1]["content"] and f"[{kept + 1}]" not in messages[-1]["content"]
    huge = [prompts.Passage(1, "docs/huge.md", long_text * 3)]
    with pytest.raises(FourpathsError, match="reads at most 512"):
        RagPath()._fit_passages(base, "What does the Ferret carry?", huge, 48)


def test_prompt_longer_than_the_positions_is_a_clear_error(micro_encoder_models):
    base = load_base_with_adapter(str(micro_encoder_models["base"]), None)
    with pytest.raises(FourpathsError, match="shorten the question or lower max new tokens"):
        AnswerPath.render_within(base, prompts.zero_shot("How long is the probation period?"), 600)


def test_four_paths_answer_on_the_encoder_base(micro_encoder_models, micro_settings):
    settings = replace(micro_settings, base_model=str(micro_encoder_models["base"]),
                       lora_adapter=str(micro_encoder_models["lora"]))
    results = ask("How many days of annual leave do Quillmoor employees get?", settings)
    assert list(results) == list(PATH_IDS)
    for path_id, trace in results.items():
        assert isinstance(trace, Trace), f"{path_id}: {trace}"
        assert trace.new_tokens >= 1
    assert results["rag"].facts["passages_in_prompt"] == len(results["rag"].sources) > 0


def test_held_out_reading_keeps_to_pairs_a_learnt_position_model_can_read(micro_encoder_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_encoder_models["base"])
    unlimited = list(held_out_pairs(tokenizer, 0, 6, None))
    limited = list(held_out_pairs(tokenizer, 0, 6, 300))
    assert len(unlimited) == len(limited) == 6
    assert any(prompt_length(tokenizer, e) + ANSWER_ROOM > 300 for pair in unlimited for e in pair)
    assert all(prompt_length(tokenizer, e) + ANSWER_ROOM <= 300 for pair in limited for e in pair)


def test_document_text_ends_with_the_encoder_tokenizers_own_end_token(micro_encoder_models):
    """Statements for LoRA are plain texts; on an encoder base they must close with [SEP], never [UNK]."""
    _, tokenizer = load_causal_lm(str(micro_encoder_models["base"]))
    ids, labels = encode_text(tokenizer, "Annual leave is 27 days a year.")
    assert ids[-1] == tokenizer.eos_token_id == tokenizer.sep_token_id
    assert tokenizer.unk_token_id not in ids and labels == ids


def test_a_stage_saved_in_half_precision_loads_as_float32_with_the_same_weights_rounded(micro_encoder_models,
                                                                                         tmp_path):
    """--save-dtype float16 is how a 22.7M base fits models/: half the bytes, the values rounded, nothing else."""
    from fourpaths.training.base import train_base

    folders = {}
    for dtype in ("float32", "float16"):
        folders[dtype] = tmp_path / dtype
        train_base(folders[dtype], tmp_path / "runs" / dtype, preset="micro", eval_size=1, stage="encoder-quoting",
                   init_from=micro_encoder_models["base"], save_dtype=dtype)
    stored = load_file(folders["float16"] / "model.safetensors")
    assert {tensor.dtype for tensor in stored.values()} == {torch.float16}
    assert "--save-dtype float16" in (folders["float16"] / "README.md").read_text()
    full, _ = load_causal_lm(str(folders["float32"]))
    half, _ = load_causal_lm(str(folders["float16"]))
    for (name, exact), (_, rounded) in zip(full.named_parameters(), half.named_parameters()):
        assert rounded.dtype == torch.float32, name
        assert torch.equal(rounded, exact.half().float()), name
