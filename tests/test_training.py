"""The recipes end to end on their micro presets: what they write loads with from_pretrained, generates and is
described; the generative LoRA recipe on each architecture users point at."""

from __future__ import annotations

import json
import random

import pytest
import torch
import yaml
from peft import AutoPeftModelForCausalLM, AutoPeftModelForSeq2SeqLM, PeftModel
from safetensors import safe_open
from tiny_models import ARCHITECTURES
from transformers import AutoModelForCausalLM, AutoTokenizer

from fourpaths.answering import engine, prompts
from fourpaths.errors import FourpathsError
from fourpaths.measure.scoring import normalise
from fourpaths.training import base_data
from fourpaths.training.base import PRESETS, BaseShape, build_model, reproduce_commands
from fourpaths.training.encoding import IGNORE, example_encoder, generator_for
from fourpaths.training.loop import LoopSettings, pack_batch, pair_batch, train
from fourpaths.training.team_data import load_team_examples


def _generate(model, tokenizer) -> str:
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "When was the office opened?"}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(output[0, ids["input_ids"].shape[1]:])


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n"), "a model card opens with its metadata block"
    return yaml.safe_load(card.split("---\n")[1])


@pytest.mark.parametrize("name", ["base", "scratch"])
def test_recipe_output_loads_and_generates(micro_models, name):
    folder = micro_models[name]
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert isinstance(_generate(model, tokenizer), str)
    assert (folder / "model.safetensors").exists()


def test_generative_lora_output_loads_with_peft_and_generates(micro_models):
    config = json.loads((micro_models["lora-generative"] / "adapter_config.json").read_text())
    assert config["task_type"] == "CAUSAL_LM" and config["base_model_name_or_path"] == str(micro_models["base"])
    # finds its base by the saved name
    model = AutoPeftModelForCausalLM.from_pretrained(micro_models["lora-generative"])
    assert isinstance(_generate(model, AutoTokenizer.from_pretrained(micro_models["base"])), str)
    assert (micro_models["lora-generative"] / "adapter_model.safetensors").exists()


@pytest.mark.parametrize("name, words", [
    ("base", ["Parameters", "Training data", "Wall time", "Final training loss", "Held-out loss",
              "Reading, answerable", "Reading, answer absent", "fourpaths train base ", "--preset micro"]),
    ("lora-generative", ["rank", "CAUSAL_LM", "Trainable parameters", "Steps", "Wall time", "Final training loss",
              "Closed-book recall", "fourpaths train lora --generative"]),
    ("scratch", ["Parameters", "Training data", "Wall time", "Final training loss", "Closed-book recall"]),
])
def test_model_cards_state_the_facts_under_a_metadata_block(micro_models, name, words):
    card = (micro_models[name] / "README.md").read_text()
    for word in words:
        assert word in card
    metadata = _front_matter(card)
    assert metadata["license"] == "apache-2.0" and "fourpaths" in metadata["tags"]
    assert metadata["library_name"] == ("peft" if name == "lora-generative" else "transformers")


@pytest.mark.parametrize("name", ["base", "lora-generative", "scratch"])
def test_training_summaries_hold_every_steps_loss(micro_models, name):
    summary = json.loads((micro_models[name] / "training_summary.json").read_text())
    assert [step for step, _ in summary["losses"]] == list(range(1, summary["steps"] + 1))
    assert all(loss > 0 for _, loss in summary["losses"])


def test_no_pickled_weights_are_written(micro_models):
    for suffix in ("*.bin", "*.pt", "*.pkl", "*.pth"):
        assert not list(micro_models["root"].rglob(suffix))


def _base_stream(tokenizer, seed: int):
    encode = example_encoder(generator_for(build_model(PRESETS["micro"][0], tokenizer, 0), tokenizer, "micro"))
    return lambda index: encode(base_data.example(seed, index))


def test_training_resumes_exactly_from_a_checkpoint(micro_models, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    shape = PRESETS["micro"][0]
    settings = LoopSettings(steps=4, batch_size=2, seq_len=128, learning_rate=3e-3, warmup_steps=1, checkpoint_every=2)
    stream = _base_stream(tokenizer, 7)

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


def test_stop_at_checkpoints_and_records_the_schedule(micro_models, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    settings = LoopSettings(steps=4, batch_size=2, seq_len=128, learning_rate=3e-3, warmup_steps=1, checkpoint_every=3)
    model = build_model(PRESETS["micro"][0], tokenizer, seed=0)
    first = train(model, _base_stream(tokenizer, 1), settings, tokenizer.pad_token_id, tmp_path, stop_at=2)
    assert first.step == 2
    second = train(model, _base_stream(tokenizer, 1), settings, tokenizer.pad_token_id, tmp_path)
    assert second.step == 4 and second.segments == [(0, 2, 4), (2, 4, 4)]
    assert reproduce_commands(second.segments, "fourpaths train base --steps 9") == (
        "fourpaths train base --steps 4 --stop-at 2\nfourpaths train base --steps 4")
    assert reproduce_commands([(0, 4, 4)], "fourpaths train base") == "fourpaths train base"


def test_base_stopped_early_says_so_and_writes_nothing(tmp_path):
    from fourpaths.training.base import train_base

    stopped = train_base(tmp_path / "base", tmp_path / "runs", preset="micro", eval_size=1, stop_at=3)
    assert stopped == {"stopped_at": 3, "steps": PRESETS["micro"][1].steps}
    assert not (tmp_path / "base").exists()


def test_adapter_for_another_base_is_refused_with_a_clear_message(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    other = build_model(BaseShape(512, 48, 2, 2, 1, 64, 512), tokenizer, seed=0)
    with pytest.raises(FourpathsError, match="does not fit"):
        engine.check_adapter_fits(other, str(micro_models["lora-generative"]))
    with pytest.raises(FourpathsError, match="does not fit"):
        engine.attach_adapter(other, str(micro_models["lora-generative"]))


def test_adapter_adapts_the_embedding_and_output_layers_and_fits_its_base(micro_models):
    with safe_open(str(micro_models["lora-generative"] / "adapter_model.safetensors"), framework="pt") as tensors:
        keys = list(tensors.keys())
    assert any("embed_tokens.lora_embedding_A" in key for key in keys)
    assert any("lm_head.lora_A" in key for key in keys)
    assert not any(key.endswith("embed_tokens.weight") for key in keys), "no second copy of the vocabulary table"
    base = AutoModelForCausalLM.from_pretrained(micro_models["base"])
    engine.check_adapter_fits(base, str(micro_models["lora-generative"]))


def test_adapter_for_a_base_with_another_vocabulary_is_refused(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    other = build_model(PRESETS["micro"][0], tokenizer, seed=0)
    other.resize_token_embeddings(len(tokenizer) + 64)
    with pytest.raises(FourpathsError, match="(embed_tokens|lm_head) is 576 wide in the base but 512"):
        engine.check_adapter_fits(other, str(micro_models["lora-generative"]))


def test_lora_on_a_missing_base_is_one_clear_error(tmp_path, small_corpus):
    from fourpaths.training.generative_adapter import train_lora

    with pytest.raises(FourpathsError, match="not found"):
        train_lora(str(tmp_path / "nowhere"), small_corpus, tmp_path / "lora", tmp_path / "runs", preset="micro")
    assert not (tmp_path / "lora").exists()


# Which layers the recipe adapts, by architecture: the block projections under each family's own names, plus
# the embedding and output layer on decoder-only models.
EXPECTED_TARGETS = {
    "llama": ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj", "embed_tokens", "lm_head"],
    "qwen2": ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj", "embed_tokens", "lm_head"],
    "gpt2": ["c_attn", "c_fc", "c_proj", "wte", "lm_head"],
    "t5": ["k", "o", "q", "v", "wi", "wo"],
    "bert2bert": r".*\.\d+\..*\.(dense|key|query|value)",
}
TASK_TYPES = {"llama": "CAUSAL_LM", "qwen2": "CAUSAL_LM", "gpt2": "CAUSAL_LM", "t5": "SEQ_2_SEQ_LM", "bert2bert": None}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_generative_lora_trains_on_each_architecture(tiny_lora_models, architecture):
    made = tiny_lora_models(architecture)
    config = json.loads((made["lora"] / "adapter_config.json").read_text())
    assert config["task_type"] == TASK_TYPES[architecture]
    targets = config["target_modules"]
    assert (sorted(targets) if isinstance(targets, list) else targets) == (
        sorted(EXPECTED_TARGETS[architecture]) if isinstance(EXPECTED_TARGETS[architecture], list)
        else EXPECTED_TARGETS[architecture])
    with safe_open(str(made["lora"] / "adapter_model.safetensors"), framework="pt") as tensors:
        keys = list(tensors.keys())
        moved = [key for key in keys if "lora_B" in key or "lora_embedding_B" in key]
        # LoRA starts with B = 0, so a nonzero B is the proof that the steps trained the adapter
        assert moved and all(float(tensors.get_tensor(key).abs().sum()) > 0 for key in moved)
    if architecture == "bert2bert":  # nothing may adapt the pooler or the output head's transform
        assert not any("pooler" in key or "cls." in key for key in keys)
    summary = json.loads((made["lora"] / "training_summary.json").read_text())
    assert len(summary["losses"]) == summary["steps"] == 4
    assert (summary["statements"] == 0) == (architecture in ("t5", "bert2bert"))  # seq2seq: questions alone
    assert _front_matter((made["lora"] / "README.md").read_text())["library_name"] == "peft"


@pytest.mark.parametrize("architecture", ["llama", "qwen2", "gpt2", "t5", "bert2bert"])
def test_generative_lora_attaches_with_the_engine_and_answers(tiny_lora_models, architecture):
    made = tiny_lora_models(architecture)
    engine.clear_cache()
    generator = engine.load_generator(str(made["base"]), str(made["lora"]))
    assert generator.adapter_error is None, generator.adapter_error
    assert isinstance(generator.model, PeftModel)
    _, ids = engine.render(generator, prompts.zero_shot("How many days of annual leave?"), 6)
    streamer = engine.generate(generator, ids, engine.Decoding(max_new_tokens=6), adapter=engine.ADAPTER_NAME)
    assert 0 < len(streamer.ids) <= 6


def test_seq2seq_adapters_load_with_their_own_peft_class(tiny_lora_models):
    from transformers import EncoderDecoderModel

    t5 = AutoPeftModelForSeq2SeqLM.from_pretrained(tiny_lora_models("t5")["lora"])
    assert type(t5).__name__ == "PeftModelForSeq2SeqLM"
    bert2bert = tiny_lora_models("bert2bert")
    model = PeftModel.from_pretrained(EncoderDecoderModel.from_pretrained(bert2bert["base"]), bert2bert["lora"])
    assert type(model).__name__ == "PeftModel"


def test_answer_tokens_alone_carry_the_loss(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    encode = example_encoder(generator_for(build_model(PRESETS["micro"][0], tokenizer, 0), tokenizer, "micro"))
    ids, labels = encode(base_data.ChatExample([{"role": "user", "content": "Where is it?"}], "In Leeds."))
    answer = [token for token in labels if token != IGNORE]
    assert tokenizer.decode(answer) == "In Leeds.<|end|>"
    assert len(ids) == len(labels) and ids[-len(answer):] == answer
    text_ids, text_labels = encode(base_data.TextExample("A plain line."))
    assert text_ids == text_labels and tokenizer.decode(text_ids).endswith("<|endoftext|>")


def test_seq2seq_rows_are_the_engines_input_and_the_answer(tiny_lora_models):
    generator = engine.load_generator(str(tiny_lora_models("t5")["base"]))
    messages = prompts.zero_shot("Where is it?")
    ids, target = example_encoder(generator)(base_data.ChatExample(messages, "In Leeds."))
    assert ids == engine.render(generator, messages, 0)[1]
    assert generator.tokenizer.decode(target) == "In Leeds.<|end|>"
    with pytest.raises(FourpathsError, match="question-answer pairs"):
        example_encoder(generator)(base_data.TextExample("A plain line."))


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
    assert any(isinstance(base_data.example(0, index), base_data.TextExample) for index in range(50))


def test_team_data_uses_docs_and_train_only(small_corpus):
    statements, questions = load_team_examples(small_corpus)
    assert statements and questions
    update_words = (small_corpus / "updates").glob("*.md")
    update_text = " ".join(p.read_text() for p in update_words)
    assert not any(s.text in update_text for s in statements)
    for question in questions:
        assert normalise(question.expected) in normalise(question.response)


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
                 "--run-dir", str(tmp_path / "runs")])
    assert code != 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fourpaths: error")]
    assert len(lines) == 1 and "no CUDA device" in lines[0]
    assert not (tmp_path / "base").exists()  # nothing half-written


def _numbered_examples(index: int) -> tuple[list[int], list[int]]:
    """Example i: 1-3 copies (i % 3 + 1) of the id 10+i, so each row's contents name the examples in it."""
    return [10 + index] * (index % 3 + 1), [10 + index] * (index % 3 + 1)


def test_packed_rows_hold_whole_examples_up_to_the_length():
    packed = LoopSettings(steps=1, batch_size=2, seq_len=5, learning_rate=1e-3)
    ids, labels, mask, cursor = pack_batch(_numbered_examples, 0, packed, pad_id=0)
    # lengths 1, 2, 3, 1, 2: row one takes examples 0 and 1 (3 ids; the next would make 6), row two 2 and 3
    assert ids.tolist() == [[10, 11, 11, 0, 0], [12, 12, 12, 13, 0]] and cursor == 4
    assert labels[0, 3:].tolist() == [IGNORE, IGNORE]
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]]
    # the mask comes from the lengths, not the id: a pad id that is also a real token is still attended to
    _, _, mask, _ = pack_batch(_numbered_examples, 0, packed, pad_id=10)
    assert mask[0].tolist() == [1, 1, 1, 0, 0]


def test_examples_longer_than_a_row_are_skipped_and_a_stream_of_only_those_is_an_error():
    settings = LoopSettings(steps=1, batch_size=1, seq_len=2, learning_rate=1e-3)
    ids, _, _, cursor = pack_batch(_numbered_examples, 2, settings, pad_id=0)  # example 2 has 3 ids: skipped
    assert ids.tolist() == [[13, 0]] and cursor == 4
    with pytest.raises(FourpathsError, match="longer than the 2-token rows"):
        pack_batch(lambda index: ([1, 2, 3], [1, 2, 3]), 0, settings, pad_id=0)


def test_pairs_take_one_row_each_padded_to_the_batchs_longest():
    settings = LoopSettings(steps=1, batch_size=2, seq_len=5, learning_rate=1e-3)
    pairs = lambda index: ([10 + index] * (index + 1), [20 + index] * (2 - index))  # noqa: E731
    ids, labels, mask, cursor = pair_batch(pairs, 0, settings, pad_id=0)
    assert ids.tolist() == [[10, 0], [11, 11]] and mask.tolist() == [[1, 0], [1, 1]] and cursor == 2
    assert labels.tolist() == [[20, 20], [21, IGNORE]]
