"""The extractive reader: the micro recipe end to end, spans, offsets, passage boundaries, abstention, errors."""

from __future__ import annotations

import json
import random
import shutil

import pytest
import torch

from fourpaths.answering.reader import CONFIG_FILE, Reader
from fourpaths.errors import FourpathsError
from fourpaths.training import reader_doc_kinds, reader_examples, reader_natural, world


@pytest.fixture(scope="module")
def micro_reader(tmp_path_factory):
    from fourpaths.training.reader import train_reader

    root = tmp_path_factory.mktemp("reader")
    lines: list[str] = []
    summary = train_reader(root / "out", root / "run", preset="micro", seed=0, progress=lines.append)
    return root, summary, lines


def test_micro_recipe_writes_a_loadable_question_answering_model(micro_reader):
    from transformers import AutoModelForQuestionAnswering

    root, summary, lines = micro_reader
    out = root / "out"
    model = AutoModelForQuestionAnswering.from_pretrained(out, use_safetensors=True)
    assert model.config.model_type == "bert"
    assert (out / "model.safetensors").exists() and not list(out.glob("*.bin"))
    config = json.loads((out / CONFIG_FILE).read_text())
    assert isinstance(config["threshold"], float)
    saved = json.loads((out / "training_summary.json").read_text())
    assert [step for step, _ in saved["losses"]] == list(range(1, summary["steps"] + 1))
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: apache-2.0\nbase_model: sentence-transformers/all-MiniLM-L6-v2")
    assert "fourpaths train reader" in card and "--preset micro" in card
    assert any(line.startswith("eval at step") for line in lines)
    assert Reader.load(str(out)).threshold == config["threshold"]


def test_rerun_resumes_from_the_checkpoint(micro_reader, tmp_path):
    from fourpaths.training.reader import train_reader

    root, summary, _ = micro_reader
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    lines: list[str] = []
    again = train_reader(tmp_path / "out", run, preset="micro", seed=0, progress=lines.append)
    assert any("resuming" in line for line in lines)
    assert not any(line.startswith("step ") for line in lines)  # nothing left to train
    assert again["losses"] == summary["losses"]


@pytest.fixture(scope="module")
def reader(micro_reader):
    return Reader.load(str(micro_reader[0] / "out"))


PASSAGES = ["Pricing > Tiers: The Standard tier costs £195 per robot per month from 1 October 2026.",
            "Offices > Glasgow: The Glasgow office opened in March 2019 with 28 staff.",
            "Security: Call Extension 7070 to reach the Security Hotline; it is answered within 60 seconds."]


def test_spans_keep_the_passages_casing_and_offsets(reader):
    for question in ["What does the Standard tier cost?", "When did the Glasgow office open?", "Which extension?"]:
        span = reader.read(question, PASSAGES)
        assert span.passage is not None and 0 <= span.passage < len(PASSAGES)
        assert PASSAGES[span.passage][span.start:span.end] == span.text
        assert span.text  # a tiny random model still picks some span
        candidates = reader.candidates(question, PASSAGES)
        assert {c.passage for c in candidates} == {0, 1, 2}
        for candidate in candidates:
            assert PASSAGES[candidate.passage][candidate.start:candidate.end] == candidate.text


def test_separator_tokens_written_in_a_passage_are_read_as_text(reader):
    """A document that writes "[SEP]" or "[CLS]" gets no extra separator: each row holds the two the pair
    encoding puts there, and the span's offsets still point into the passage as written."""
    passages = ["The Standard tier [SEP] costs £195 [CLS] per robot per month."]
    encoded = reader.encode("What does the Standard tier cost?", passages)
    tokenizer = reader.tokenizer
    for row in encoded["input_ids"].tolist():
        assert row.count(tokenizer.sep_token_id) == 2 and row.count(tokenizer.cls_token_id) == 1
    for span in reader.candidates("What does the Standard tier cost?", passages):
        assert passages[0][span.start:span.end] == span.text


def test_a_span_never_crosses_a_passage_boundary(reader):
    """Long passages split into windows; every span must lie inside the passage it names."""
    rng = random.Random(3)
    long_passages = [" ".join(rng.choice(["Robot", "costs", "£195", "per", "month", "Glasgow", "opened", "in", "2019"])
                              for _ in range(500)) for _ in range(2)]
    spans = reader.candidates("What does it cost?", long_passages)
    assert len(spans) > 2  # windows
    for span in spans:
        assert 0 <= span.start <= span.end <= len(long_passages[span.passage])
        assert long_passages[span.passage][span.start:span.end] == span.text


def test_threshold_decides_abstention_and_can_be_changed(reader):
    question = "What does the Standard tier cost?"
    best = reader.read(question, PASSAGES)
    reader.threshold = best.margin + 1.0
    declined = reader.read(question, PASSAGES)
    assert not declined.answered
    reader.threshold = best.margin - 1.0
    assert reader.read(question, PASSAGES).answered
    assert reader.read(question, []).passage is None and not reader.read(question, []).answered


def letters(texts):
    """A small real embedder for the tests: L2-normalised letter counts (sentences sharing words are near)."""
    import numpy as np

    vectors = np.array([[text.lower().count(chr(c)) for c in range(97, 123)] for text in texts], dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def test_sentences_are_split_at_stops_and_line_breaks_and_short_lines_dropped():
    from fourpaths.retrieval.sentences import sentence_spans

    text = "## Prices\nThe Standard tier costs £195. It rose in 2026! Is it dear? Yes.\nThe Lite tier is gone"
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "The Standard tier costs £195.", "It rose in 2026!", "Is it dear?", "The Lite tier is gone"]


def test_reading_by_sentence_points_into_the_passages_and_adds_the_cosine(reader, monkeypatch):
    from fourpaths.answering import reader as reader_module

    long = PASSAGES[0] + " " + " ".join(f"Room {n} seats {n + 4} people." for n in range(12))
    passages = [long] + PASSAGES[1:]
    monkeypatch.setattr(reader_module, "SENTENCES_READ", 3)
    reader.sentence_weight, reader.threshold = 5.0, 0.0
    try:
        question = "What does the Standard tier cost per robot?"
        spans = reader.sentence_candidates(question, passages, letters)
        assert len(spans) == 3  # the three sentences nearest the question, each its own window
        for span in spans:
            assert passages[span.passage][span.start:span.end] == span.text
            assert 0 < span.bonus <= 5.0 and span.decision == span.margin + span.bonus
        best = reader.read(question, passages, letters)
        assert best.decision == max(span.decision for span in spans) and best.answered == (best.decision >= 0.0)
        assert reader.read(question, passages).bonus == 0.0  # without an embedder: whole passages
    finally:
        reader.sentence_weight, reader.threshold = 0.0, Reader.load(reader.location).threshold


def test_best_span_stays_inside_the_passage_and_the_length_limit(reader):
    """Given scores, the best span starts no later than it ends, lies in the passage's tokens, and is short."""
    start = torch.tensor([9.0, 0.0, 0.0, 8.0, 1.0, 0.0, 0.0, 0.0])
    end = torch.tensor([9.0, 0.0, 0.0, 0.0, 0.0, 7.0, 0.0, 2.0])
    context = torch.tensor([False, False, False, True, True, True, True, False])  # [CLS], question, passage, [SEP]
    first, last, score, probability = reader._best_in_window(start, end, context)
    assert (first, last, score) == (3, 5, 15.0)
    # its start's and its end's softmax over [CLS] (no answer) and the passage's tokens, multiplied
    by_hand = (torch.softmax(torch.tensor([9.0, 8.0, 1.0, 0.0, 0.0]), 0)[1]
               * torch.softmax(torch.tensor([9.0, 0.0, 0.0, 7.0, 0.0]), 0)[3])
    assert abs(probability - float(by_hand)) < 1e-6
    end_before = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    end_before[4] = -5.0
    first, last, _, _ = reader._best_in_window(torch.tensor([0, 0, 0, 0, 0, 0, 9.0, 0]), end_before, context)
    assert 3 <= first <= last <= 6 and first == 6
    limit = reader.max_answer_tokens
    long_start = torch.zeros(limit + 10)
    long_end = torch.zeros(limit + 10)
    long_start[1], long_end[-2] = 5.0, 5.0
    wide = torch.zeros(limit + 10, dtype=torch.bool)
    wide[1:-1] = True
    first, last, _, _ = reader._best_in_window(long_start, long_end, wide)
    assert last - first < limit


def test_missing_or_corrupt_reader_folder_is_a_clear_error(tmp_path, micro_reader):
    with pytest.raises(FourpathsError, match="not found"):
        Reader.load(str(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FourpathsError, match="config.json"):
        Reader.load(str(empty))
    broken = tmp_path / "broken"
    shutil.copytree(micro_reader[0] / "out", broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(FourpathsError, match="cannot load the reader") as error:
        Reader.load(str(broken))
    assert "\n" not in str(error.value)
    bad_config = tmp_path / "bad_config"
    shutil.copytree(micro_reader[0] / "out", bad_config)
    (bad_config / CONFIG_FILE).write_text("{not json")
    with pytest.raises(FourpathsError, match=CONFIG_FILE):
        Reader.load(str(bad_config))


def test_generated_examples_point_at_their_answers():
    for index in range(3):
        for example in reader_examples.example_batch(7, index, 16, null_share=0.4):
            if example.answer_start >= 0:
                end = example.answer_start + len(example.answer)
                assert example.passage[example.answer_start:end] == example.answer
                assert len(example.answer.split()) <= 12  # short values, like the reference answers
            else:
                assert example.answer == ""
    kinds = {e.kind for i in range(3) for e in reader_examples.example_batch(7, i, 32, null_share=0.4)}
    assert {"answer", "other-passage", "absent"} <= kinds
    assert all(e.kind == "answer" for e in reader_examples.example_batch(7, 0, 16, answerable_only=True))


def test_generated_documents_never_use_the_knowledge_base_names():
    text = " ".join(reader_doc_kinds.generate_document(random.Random(i)).text for i in range(40)).lower()
    for word in world.KB_WORDS:
        assert f" {word} " not in f" {text} "


def test_rewordings_say_the_question_as_people_ask_it():
    assert reader_natural.first_person("How many days does an employee get?") == "How many days do I get?"
    assert reader_natural.first_person("What is a Quillmoor employee's notice period?") == "What is my notice period?"
    assert reader_natural.without_company("How long is the leave year at Quillmoor?") == "How long is the leave year?"
    assert reader_natural.without_company("Who is Quillmoor's CFO?") == "Who is our CFO?"
    rng = random.Random(0)
    assert reader_natural.indirect("What is the hotel cap?", rng).endswith("what the hotel cap is?")
    variants = {reader_natural.reword("How much annual leave does a Quillmoor employee get?", rng) for _ in range(40)}
    assert len(variants) > 10 and any(" I " in v for v in variants)


def test_near_misses_ask_only_what_no_passage_about_the_entity_says():
    passages = ["The Ferret AMR carries 150 kg. Its logo was designed by Ana Ruiz.", "Compass is our HR system."]
    questions = reader_natural.near_miss_questions(passages)
    assert "Who designed the logo of the Ferret AMR?" not in questions  # a passage naming the Ferret says it
    assert "What is the patent number for the Ferret AMR?" in questions
    assert "Which company makes Compass?" in questions
    assert not any("Heron" in q for q in questions)  # no passage names it: nothing to be near


def test_team_questions_point_at_their_answers_and_near_misses_lack_them():
    answer = "Leave > Carry-over: You may carry over at most 5 days into the next leave year."
    other = "Leave > Booking: Book leave in Compass at least 2 weeks ahead."
    says_five = "Leave > Sabbatical: After 5 years you may take unpaid leave."
    item = ("How many days can a Quillmoor employee carry over?", "at most 5 days", "docs/leave.md")
    hits = [("docs/leave.md", answer), ("docs/leave.md", other), ("docs/leave.md", says_five),
            ("updates/leave.md", "Leave > Change: carry-over is now 8 days.")]
    [team] = reader_natural.team_questions([item], [hits], {"docs/leave.md": [answer, other, says_five]})
    assert [text[start:end] for text, start, end in team.answers] == ["at most 5 days"]
    assert team.near_misses == (other,)  # not the passage with a 5 in it, never an update
    data = reader_natural.NaturalData([team], [("What car does Ana drive?", [other])], [("hello", [other])])
    preset = __import__("fourpaths.training.reader", fromlist=["PRESETS"]).PRESETS["default"]
    examples = reader_natural.team_examples(data, random.Random(1), 60, preset)
    assert {e.kind for e in examples} == {"answer", "near-miss", "kb-near-miss", "off-topic"}
    for e in examples:
        assert e.passage[e.answer_start:e.answer_start + len(e.answer)] == e.answer if e.answer else e.answer_start < 0


SHIPPED = __import__("pathlib").Path(__file__).resolve().parent.parent / "models" / "reader"


@pytest.mark.skipif(not (SHIPPED / "config.json").exists(), reason="models/reader not trained yet")
def test_shipped_reader_answers_from_the_right_passage_and_abstains_without_one():
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import load_settings

    shipped = Reader.load(str(SHIPPED))
    assert shipped.sentence_weight > 0  # it reads by sentence, with the RAG path's embedder, as the path does
    embed = Workspace(load_settings()).embed
    passages = ["Offices > Glasgow: The Glasgow office opened in March 2019 with 28 staff. Reception is open from "
                "08:00 to 18:00.",
                "Travel > Hotels: Hotel stays are capped at £140 a night, or £190 a night in London.",
                "Security > Hotline: Call extension 7070 to reach the Security Hotline."]
    span = shipped.read("How many people did the Glasgow office start with?", passages, embed)
    assert span.answered and span.passage == 0 and "28" in span.text and len(span.text.split()) <= 4
    span = shipped.read("What is the hotel limit in London?", passages, embed)
    assert span.answered and span.passage == 1 and "£190" in span.text
    assert passages[span.passage][span.start:span.end] == span.text
    assert not shipped.read("Write a poem about the sea.", passages, embed).answered
    assert not shipped.read("Who is the chief executive of the company?", passages, embed).answered


def test_dev_threshold_is_the_lowest_that_declines_the_target_share():
    from fourpaths.training.reader_report import DevScored, calibrate_on_dev

    answerable = [DevScored("docs", margin, True, False) for margin in (1.0, 2.0, 3.0, 4.0)]
    unanswerable = [DevScored("none", margin, False, False) for margin in (0.5, 1.5, 2.5, 3.5, 4.5)]
    threshold, rates = calibrate_on_dev(answerable + unanswerable, decline=0.8)  # 4 of 5 declined
    assert 3.5 < threshold <= 4.0  # the lowest that declines 0.8: everything below 4.5 refused
    assert rates["none"] == 0.8 and rates["docs"] == 0.25
    threshold, rates = calibrate_on_dev(answerable + unanswerable, decline=0.4)
    assert 1.5 < threshold <= 2.0 and rates["docs"] == 0.75  # declining less answers more
    assert calibrate_on_dev(answerable)[1]["docs"] == 1.0  # nothing to decline: every question answered


def test_recalibrate_rewrites_the_threshold_and_the_card_without_training(micro_reader, tmp_path):
    from fourpaths.training.reader_report import recalibrate

    out = tmp_path / "reader"
    shutil.copytree(micro_reader[0] / "out", out)
    config = json.loads((out / CONFIG_FILE).read_text())
    (out / CONFIG_FILE).write_text(json.dumps({**config, "threshold": 123.0}))
    weights = (out / "model.safetensors").read_bytes()
    figures = recalibrate(out, progress=lambda line: None)
    assert json.loads((out / CONFIG_FILE).read_text())["threshold"] == figures["threshold"] != 123.0
    assert figures["dev_at_threshold"]["decline_target"] == 0.8
    assert (out / "model.safetensors").read_bytes() == weights
    card = (out / "README.md").read_text()
    assert "--preset micro" in card and f"fourpaths train reader --recalibrate --output {out}" in card
    assert json.loads((out / "training_summary.json").read_text())["figures"] == figures
