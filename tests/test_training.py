"""The recipes end to end on their micro presets: what they write loads, generates and is described."""

from __future__ import annotations

import random
import shutil

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from fourpaths import prompts
from fourpaths.errors import FourpathsError
from fourpaths.models import attach_adapter, check_adapter_fits, load_causal_lm
from fourpaths.scoring import normalise
from fourpaths.training import base_data
from fourpaths.training.base import PRESETS, BaseShape, build_model
from fourpaths.training.encoding import IGNORE, encode
from fourpaths.training.loop import LoopSettings, pack_batch, train
from fourpaths.training.team_data import load_team_examples


def _generate(model, tokenizer) -> str:
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "When was the office opened?"}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(output[0, ids["input_ids"].shape[1]:])


@pytest.mark.parametrize("name", ["base", "scratch"])
def test_recipe_output_loads_and_generates(micro_models, name):
    folder = micro_models[name]
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert isinstance(_generate(model, tokenizer), str)
    assert (folder / "model.safetensors").exists()


def test_lora_output_loads_with_peft_and_generates(micro_models):
    base = AutoModelForCausalLM.from_pretrained(micro_models["base"], use_safetensors=True)
    model = PeftModel.from_pretrained(base, micro_models["lora"])
    assert isinstance(_generate(model, AutoTokenizer.from_pretrained(micro_models["base"])), str)
    assert (micro_models["lora"] / "adapter_model.safetensors").exists()


@pytest.mark.parametrize("name, words", [
    ("base", ["Parameters", "Training data", "Wall time", "Final training loss", "Held-out loss",
              "Reading, answerable", "Reading, answer absent", "fourpaths train base"]),
    ("lora", ["rank", "Trainable parameters", "Steps", "Wall time", "Final training loss",
              "Closed-book recall", "Reproduce"]),
    ("scratch", ["Parameters", "Training data", "Wall time", "Final training loss", "Closed-book recall"]),
])
def test_model_cards_state_the_facts(micro_models, name, words):
    card = (micro_models[name] / "README.md").read_text()
    for word in words:
        assert word in card


def test_no_pickled_weights_are_written(micro_models):
    for suffix in ("*.bin", "*.pt", "*.pkl", "*.pth"):
        assert not list(micro_models["root"].rglob(suffix))


def test_training_resumes_exactly_from_a_checkpoint(micro_models, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    shape = PRESETS["micro"][0]
    settings = LoopSettings(steps=4, batch_size=2, seq_len=128, learning_rate=3e-3, warmup_steps=1, checkpoint_every=2)
    stream = lambda index: encode(tokenizer, base_data.example(7, index))  # noqa: E731

    straight = build_model(shape, tokenizer, seed=3)
    train(straight, stream, settings, tokenizer.pad_token_id, tmp_path / "straight")

    interrupted = build_model(shape, tokenizer, seed=3)
    half = LoopSettings(**{**settings.__dict__, "steps": 2})
    train(interrupted, stream, half, tokenizer.pad_token_id, tmp_path / "resumed")
    resumed = build_model(shape, tokenizer, seed=99)  # fresh process: different init, restored from checkpoint
    progress = train(resumed, stream, settings, tokenizer.pad_token_id, tmp_path / "resumed")

    assert progress.step == 4
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_adapter_for_another_base_is_refused_with_a_clear_message(micro_models, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    other = build_model(BaseShape(512, 48, 2, 2, 1, 64, 512), tokenizer, seed=0)
    with pytest.raises(FourpathsError, match="does not fit"):
        check_adapter_fits(other, str(micro_models["lora"]))
    with pytest.raises(FourpathsError, match="does not fit"):
        attach_adapter(other, str(micro_models["lora"]))


def test_adapter_adapts_the_embedding_and_output_layers_and_fits_its_base(micro_models):
    from safetensors import safe_open

    with safe_open(str(micro_models["lora"] / "adapter_model.safetensors"), framework="pt") as tensors:
        keys = list(tensors.keys())
    assert any("embed_tokens.lora_embedding_A" in key for key in keys)
    assert any("lm_head.lora_A" in key for key in keys)
    check_adapter_fits(AutoModelForCausalLM.from_pretrained(micro_models["base"]), str(micro_models["lora"]))


def test_adapter_for_a_base_with_another_vocabulary_is_refused(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    shape = PRESETS["micro"][0]
    other = build_model(BaseShape(shape.vocab_size, shape.hidden, shape.layers, shape.heads, shape.kv_heads,
                                  shape.intermediate, shape.max_positions), tokenizer, seed=0)
    other.resize_token_embeddings(len(tokenizer) + 64)
    with pytest.raises(FourpathsError, match="(embed_tokens|lm_head) is 576 wide in the base but 512"):
        check_adapter_fits(other, str(micro_models["lora"]))


def test_missing_and_corrupt_weights_are_clear_errors(micro_models, tmp_path):
    with pytest.raises(FourpathsError, match="not found"):
        load_causal_lm(str(tmp_path / "nowhere"))
    broken = tmp_path / "broken"
    shutil.copytree(micro_models["base"], broken)
    (broken / "model.safetensors").write_bytes(b"this is not a safetensors file")
    with pytest.raises(FourpathsError, match="cannot load model"):
        load_causal_lm(str(broken))
    (broken / "model.safetensors").unlink()
    with pytest.raises(FourpathsError, match="no safetensors"):
        load_causal_lm(str(broken))


def test_reading_examples_quote_the_passage_or_abstain():
    for index in range(30):
        rng = random.Random(index)
        good = base_data.reading_example(rng, answerable=True)
        passages = good.messages[-1]["content"]
        assert normalise(good.expected) in normalise(passages)
        assert normalise(good.expected) in normalise(good.response)
        assert good.response.rstrip(".").endswith("]")
        missing = base_data.reading_example(rng, answerable=False)
        assert missing.response == prompts.NOT_IN_PASSAGES and missing.expected is None


def test_ranked_reading_quotes_the_answering_passage_from_its_start_and_ranks_it_mostly_first():
    ranks = []
    for index in range(300):
        rng = random.Random(f"ranked:{index}")
        good = base_data.ranked_reading_example(rng, answerable=True)
        passages = good.messages[1]["content"].split("Passages:\n")[1].split("\n\nQuestion:")[0].splitlines()
        assert len(passages) == 3
        rank = int(good.response[1])
        ranks.append(rank)
        quote = good.response[4:]
        body = passages[rank - 1].split(":", 1)[1].strip()  # the text after the passage's heading
        assert body.startswith(quote) and good.expected in quote
        missing = base_data.ranked_reading_example(rng, answerable=False)
        assert missing.response == prompts.NOT_IN_PASSAGES and missing.expected is None
    assert 0.6 < ranks.count(1) / len(ranks) < 0.8 and ranks.count(3) > 0


def test_pretraining_stream_covers_every_prompt_template_and_is_deterministic():
    seen_systems = set()
    for index in range(400):
        example = base_data.example(0, index)
        assert repr(example) == repr(base_data.example(0, index))
        if isinstance(example, base_data.ChatExample):
            seen_systems.add(example.messages[0]["content"][:20] if example.messages[0]["role"] == "system" else "user")
    expected = {prompts.STEP_SYSTEM[:20], prompts.FORMAT_SYSTEM[:20], prompts.RAG_SYSTEM[:20], "user"}
    assert expected <= seen_systems
    assert any(s.startswith("You are") for s in seen_systems)


def test_answer_tokens_alone_carry_the_loss(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    example = base_data.ChatExample([{"role": "user", "content": "Where is it?"}], "In Leeds.")
    ids, labels = encode(tokenizer, example)
    answer = [token for token in labels if token != IGNORE]
    assert tokenizer.decode(answer) == "In Leeds.<|end|>"
    assert len(ids) == len(labels)


def test_team_data_uses_docs_and_train_only(small_corpus):
    statements, questions = load_team_examples(small_corpus)
    assert statements and questions
    update_words = (small_corpus / "updates").glob("*.md")
    update_text = " ".join(p.read_text() for p in update_words)
    assert not any(s.text in update_text for s in statements)
    for question in questions:
        assert normalise(question.expected) in normalise(question.response)


def test_stop_at_checkpoints_and_records_the_schedule(micro_models, tmp_path):
    from fourpaths.training.base import reproduce_commands

    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    settings = LoopSettings(steps=4, batch_size=2, seq_len=128, learning_rate=3e-3, warmup_steps=1, checkpoint_every=3)
    stream = lambda index: encode(tokenizer, base_data.example(1, index))  # noqa: E731
    model = build_model(PRESETS["micro"][0], tokenizer, seed=0)
    first = train(model, stream, settings, tokenizer.pad_token_id, tmp_path, stop_at=2)
    assert first.step == 2
    second = train(model, stream, settings, tokenizer.pad_token_id, tmp_path)
    assert second.step == 4 and second.segments == [(0, 2, 4), (2, 4, 4)]
    assert reproduce_commands(second.segments, "fourpaths train base --steps 9") == (
        "fourpaths train base --steps 4 --stop-at 2\nfourpaths train base --steps 4")
    assert reproduce_commands([(0, 4, 4)], "fourpaths train base") == "fourpaths train base"


def test_copy_examples_answer_with_text_found_in_the_prompt():
    for index in range(30):
        example = base_data.copy_example(random.Random(f"copy:{index}"))
        assert example.response and example.response in example.messages[-1]["content"]


def test_reading_stream_differs_from_pretraining_and_has_every_kind():
    reading = [base_data.example(0, index, "reading") for index in range(200)]
    assert repr(reading[:5]) != repr([base_data.example(0, index) for index in range(5)])
    responses = [e.response for e in reading if isinstance(e, base_data.ChatExample)]
    assert any(e.messages[0]["content"].startswith("Repeat exactly") for e in reading
               if isinstance(e, base_data.ChatExample))
    assert prompts.NOT_IN_PASSAGES in responses
    assert any(isinstance(e, base_data.TextExample) for e in reading)


def test_quoting_stream_starts_reading_on_short_passages():
    quoting = [base_data.example(0, index, "quoting") for index in range(300)]
    reading = [e for e in quoting if isinstance(e, base_data.ChatExample) and e.messages[0]["content"] == prompts.RAG_SYSTEM]
    passage_counts = [e.messages[-1]["content"].count("\n[") for e in reading]
    assert min(passage_counts) == 1 and max(passage_counts) == 4
    short = [e for e in reading if e.expected and len(e.messages[-1]["content"]) < 400]
    assert short and all(normalise(e.expected) in normalise(e.messages[-1]["content"]) for e in short)
    assert repr(quoting[:5]) != repr([base_data.example(0, index, "reading") for index in range(5)])


def test_reading_stage_continues_the_base_and_records_both_stages(micro_models, tmp_path):
    import json

    from fourpaths.training.base import train_base

    output = tmp_path / "base"
    shutil.copytree(micro_models["base"], output)
    summary = train_base(output, tmp_path / "runs", preset="micro", eval_size=1, stage="reading")
    assert [stage["stage"] for stage in summary["stages"]] == ["pretrain", "reading"]
    saved = json.loads((output / "training_summary.json").read_text())
    assert saved["steps"] == saved["stages"][0]["steps"] + saved["stages"][1]["steps"]
    assert saved["losses"][-1][0] == saved["steps"]
    card = (output / "README.md").read_text()
    assert "Stage 1: pretrain" in card and "Stage 2: reading" in card
    assert "--stage reading" in card
    AutoModelForCausalLM.from_pretrained(output)


def test_induction_strings_are_said_twice_and_only_the_repeat_is_learnt():
    from fourpaths.training.induction_data import repeated_tokens

    ids, labels = repeated_tokens(0, 7, separator_id=2, first_id=10, vocab_size=500)
    length = (len(ids) - 2) // 2
    first, second = ids[1:1 + length], ids[2 + length:]
    assert first == second and ids[0] == ids[1 + length] == 2
    assert all(10 <= token < 500 for token in first)
    assert labels == [IGNORE] * (length + 2) + second
    assert repeated_tokens(0, 7, 2, 10, 500) == (ids, labels)  # a resumed run sees the same stream
    assert repeated_tokens(0, 8, 2, 10, 500) != (ids, labels)


def test_repeated_spans_come_from_anywhere_in_a_long_string_and_only_the_span_is_learnt():
    from fourpaths.training.induction_data import repeated_span

    starts, lengths = set(), []
    for index in range(80):
        ids, labels = repeated_span(0, index, separator_id=2, first_id=10, vocab_size=500)
        second = len(ids) - 1 - ids[::-1].index(2)  # the separator before the copy
        span = ids[second + 1:]
        source = ids[1:second]
        where = [i for i in range(len(source)) if source[i:i + len(span)] == span]
        assert where, "the span is copied from the string"
        assert labels == [IGNORE] * (second + 2) + span[1:] or labels == [IGNORE] * (second + 1) + span
        starts.add(where[0])
        lengths.append(len(source))
        assert repeated_span(0, index, 2, 10, 500) == (ids, labels)
    assert len(starts) > 10 and max(lengths) > 300


def test_induction_stage_builds_a_fresh_model_that_later_stages_continue(tmp_path):
    import json

    from fourpaths.training.base import train_base

    output = tmp_path / "base"
    first = train_base(output, tmp_path / "runs-induction", preset="micro", eval_size=1, stage="induction")
    assert [stage["stage"] for stage in first["stages"]] == ["induction"]
    second = train_base(output, tmp_path / "runs-quoting", preset="micro", eval_size=1, stage="quoting")
    assert [stage["stage"] for stage in second["stages"]] == ["induction", "quoting"]
    assert 0 <= second["value_copy_accuracy"] <= 1
    card = (output / "README.md").read_text()
    assert "Stage 1: induction" in card and "--stage induction" in card and "--stage quoting" in card
    assert "Copying (held-out)" in card
    saved = json.loads((output / "training_summary.json").read_text())
    assert saved["steps"] == first["steps"] + second["stages"][1]["steps"]
    AutoModelForCausalLM.from_pretrained(output, use_safetensors=True)


def test_cli_offers_every_base_stage_and_preset():
    from fourpaths import cli
    from fourpaths.training.base import PRESETS as BASE_PRESETS, STAGE_RUN_DIRS

    assert cli.BASE_STAGES == list(STAGE_RUN_DIRS)
    assert cli.BASE_PRESETS == list(BASE_PRESETS)


def test_training_device_follows_the_environment(monkeypatch):
    from fourpaths.training.loop import TRAIN_DEVICE_VARIABLE, training_device

    monkeypatch.setenv(TRAIN_DEVICE_VARIABLE, "cpu")
    assert training_device() == torch.device("cpu")
    monkeypatch.setenv(TRAIN_DEVICE_VARIABLE, "telepathy")
    with pytest.raises(FourpathsError, match="not a device name"):
        training_device()
    monkeypatch.delenv(TRAIN_DEVICE_VARIABLE)
    assert training_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU, so asking for one is no error")
def test_asking_for_a_missing_gpu_is_one_line_and_a_nonzero_exit(monkeypatch, tmp_path, capsys):
    from fourpaths.cli import main

    monkeypatch.setenv("FOURPATHS_TRAIN_DEVICE", "cuda")
    code = main(["train", "base", "--preset", "micro", "--output", str(tmp_path / "base"),
                 "--run-dir", str(tmp_path / "runs"), "--eval-size", "1"])
    assert code != 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fourpaths: error")]
    assert len(lines) == 1 and "no CUDA device" in lines[0]
    assert not (tmp_path / "base").exists()  # nothing half-written


def _numbered_examples(index: int) -> tuple[list[int], list[int]]:
    """Example i: 1-3 copies (i % 3 + 1) of the id 10+i, so each row's contents name the examples in it."""
    return [10 + index] * (index % 3 + 1), [10 + index] * (index % 3 + 1)


def test_packed_rows_hold_whole_examples_up_to_the_length_and_unpacked_rows_one_each():
    packed = LoopSettings(steps=1, batch_size=2, seq_len=5, learning_rate=1e-3)
    ids, labels, cursor = pack_batch(_numbered_examples, 0, packed, pad_id=0)
    # lengths 1, 2, 3, 1, 2: row one takes examples 0 and 1 (3 ids; the next would make 6), row two 2 and 3
    assert ids.tolist() == [[10, 11, 11, 0, 0], [12, 12, 12, 13, 0]] and cursor == 4
    assert labels[0, 3:].tolist() == [IGNORE, IGNORE]
    one_each = LoopSettings(steps=1, batch_size=2, seq_len=5, learning_rate=1e-3, pack=False)
    ids, labels, cursor = pack_batch(_numbered_examples, 0, one_each, pad_id=0)
    # one example a row, padded only to the batch's longest row, not to seq_len
    assert ids.tolist() == [[10, 0], [11, 11]] and cursor == 2
    assert labels.tolist() == [[10, IGNORE], [11, 11]]
