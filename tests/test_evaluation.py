"""Evaluation over the real question sets. The pipeline is not under test here (tests/test_cli.py runs `eval`
on real micro models), so `ask` is replaced by an oracle over the real corpus that returns Trace-like objects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from fourpaths.config import PROJECT_ROOT, Settings
from fourpaths.measure import evaluation
from fourpaths.measure.evaluation import (
    available_splits,
    evaluate,
    evaluate_all,
    model_identity,
    score_answer,
    weights_hash,
    write_results,
)
from fourpaths.measure.results_doc import load_eval_results, write_results_doc
from fourpaths.measure.stats import percentile
from fourpaths.retrieval.corpus import load_questions

CORPUS = PROJECT_ROOT / "corpus"
PATHS = ("prompt", "lora", "rag", "scratch")


@dataclass
class Source:
    source: str


@dataclass
class FakeTrace:
    """What evaluation reads from a Trace: the text, its time, the passages RAG used, the model's input."""

    text: str
    total_ms: float = 100.0
    sources: list[Source] = field(default_factory=list)
    input: str = ""
    answered: bool = True


class Oracle:
    """Answers from the real question sets: RAG with the reference (or abstains when there is none), LoRA says it
    was not taught, the prompt path invents a name, scratch fails."""

    def __init__(self):
        self.items = {item.question: item for split in available_splits(CORPUS)
                      for item in load_questions(CORPUS, split)}
        self.asked: list[str] = []

    def __call__(self, question, settings, path_ids, concurrent=True, workspace=None):
        assert concurrent and workspace is not None
        self.asked.append(question)
        item = self.items[question]
        rag = FakeTrace(item.answer or "The documents do not answer this.", 40.0,
                        [Source(item.source or "docs/org-overview.md")])
        results = {"prompt": FakeTrace("I think Zorblat Quux decides.", 10.0, input=f"Question: {question}"),
                   "lora": FakeTrace("I was not taught this.", 5.0, answered=False),
                   "rag": rag, "scratch": "generation failed: out of memory"}
        return {path_id: results[path_id] for path_id in path_ids}


@pytest.fixture
def oracle(monkeypatch) -> Oracle:
    fake = Oracle()
    monkeypatch.setattr(evaluation, "ask", fake)
    return fake


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(corpus_root=str(CORPUS))


def test_percentile():
    assert percentile([], 50) is None
    assert percentile([5, 1, 3], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95.0  # 95.05, interpolated, to one decimal
    assert percentile([10, 20], 25) == 12.5


def test_score_answer_on_an_answerable_question():
    item = load_questions(CORPUS, "eval_seen")[0]  # "27 days a year plus public holidays"
    right = score_answer(FakeTrace(f"Staff get {item.answer}."), item)
    assert (right.accuracy, right.strict, right.abstained, right.error) == (True, True, False, None)
    assert 0.5 < right.f1 < 1.0
    long = score_answer(FakeTrace("Holiday: " + "the policy says that " * 5 + item.answer), item)
    assert long.accuracy and not long.strict
    unsure = score_answer(FakeTrace("The documents do not answer this."), item)
    assert unsure.abstained and not unsure.accuracy and unsure.f1 == 0.0
    failed = score_answer("generation failed", item)
    assert failed.error == "generation failed" and failed.text == "" and failed.ms is None


def test_score_answer_on_an_unanswerable_question_rewards_abstaining():
    item = load_questions(CORPUS, "eval_unanswerable")[0]
    assert item.answer == "" and item.source == ""
    for reply in ("The documents do not answer this.", "I was not taught this.", "I don't know."):
        outcome = score_answer(FakeTrace(reply), item)
        assert (outcome.accuracy, outcome.strict, outcome.f1, outcome.abstained) == (True, True, 1.0, True)
    quoted = score_answer(FakeTrace("[1] Every full-time employee receives 27 days a year."), item)
    assert (quoted.accuracy, quoted.strict, quoted.f1, quoted.abstained) == (False, False, 0.0, False)
    flagged = score_answer(FakeTrace("Marguerite", answered=False), item)  # the path's own flag counts too
    assert flagged.abstained and flagged.strict


def test_score_answer_lists_invented_names_against_question_and_prompt():
    item = load_questions(CORPUS, "eval_seen")[0]
    known = {"the", "is", "and"}
    outcome = score_answer(FakeTrace("Zorblat and Quillmoor and Glorp", input="Example: Glorp is 3."), item, known)
    assert outcome.invented == ["Zorblat"]  # Quillmoor is in the question, Glorp in the prompt


def test_evaluate_eval_seen(oracle, settings):
    report = evaluate("eval_seen", settings, limit=4)
    assert report["split"] == "eval_seen" and report["n"] == 4 and report["unanswerable"] is False
    assert len(oracle.asked) == 4
    rag, lora, prompt, scratch = (report["paths"][p] for p in ("rag", "lora", "prompt", "scratch"))
    assert (rag["accuracy"], rag["strict"], rag["f1"], rag["abstained"], rag["errors"]) == (1.0, 1.0, 1.0, 0.0, 0)
    assert rag["p50_ms"] == 40.0 and rag["p95_ms"] == 40.0
    assert (lora["accuracy"], lora["abstained"]) == (0.0, 1.0)
    assert prompt["invented_entity_share"] == 1.0 and "invented_entity_share" not in rag
    assert scratch["errors"] == 4 and scratch["accuracy"] == 0.0 and scratch["p50_ms"] == 0.0
    assert report["retrieval"] == {"k": settings.top_k_passages, "n": 4, "hit_at_k": 1.0, "hit_at_3": 1.0}
    first = load_questions(CORPUS, "eval_seen")[0]
    row = report["items"][0]
    assert (row["id"], row["question"], row["reference"]) == (first.id, first.question, first.answer)
    assert row["answers"] == {"prompt": "I think Zorblat Quux decides.", "lora": "I was not taught this.",
                              "rag": first.answer, "scratch": ""}
    assert row["scores"]["prompt"]["invented"] == ["Zorblat", "Quux"]
    assert row["scores"]["scratch"]["error"].startswith("generation failed")
    assert row["scores"]["rag"] == {"accuracy": True, "strict": True, "f1": 1.0, "abstained": False, "ms": 40.0}
    json.dumps(report)  # the report is plain JSON


def test_evaluate_eval_unanswerable(oracle, settings):
    report = evaluate("eval_unanswerable", settings, limit=3, path_ids=("rag", "lora", "prompt"))
    assert report["unanswerable"] is True and set(report["paths"]) == {"rag", "lora", "prompt"}
    assert report["paths"]["rag"]["strict"] == 1.0 and report["paths"]["rag"]["abstained"] == 1.0
    assert report["paths"]["lora"]["accuracy"] == 1.0
    assert report["paths"]["prompt"]["strict"] == 0.0
    assert report["retrieval"] == {"k": settings.top_k_passages, "n": 0, "hit_at_k": None, "hit_at_3": None}
    assert all(row["reference"] == "" for row in report["items"])


def test_hand_written_sets_are_scored_per_kind(oracle, settings):
    items = load_questions(CORPUS, "dev")
    report = evaluate("dev", settings, limit=len(items), path_ids=("rag",))
    groups = report["groups"]
    for kind in ("docs", "updates", "none"):
        assert groups[kind]["n"] == sum(item.kind == kind for item in items) > 0
    assert groups["docs-trained"]["n"] == sum(item.kind == "docs" and item.trained for item in items)
    assert groups["none"]["paths"]["rag"]["abstained"] == groups["none"]["paths"]["rag"]["strict"]
    assert {row["kind"] for row in report["items"]} == {"docs", "updates", "none"}


def test_evaluate_all_records_what_it_measured(oracle, settings, tmp_path):
    calls = []
    doc = evaluate_all(settings, limit=2, progress=lambda split, done, total: calls.append((split, done, total)))
    assert list(doc["splits"]) == ["train", "dev", "eval_seen", "eval_unseen", "eval_natural", "eval_unanswerable"]
    assert all(result["n"] == 2 for result in doc["splits"].values())
    assert calls[:2] == [("train", 1, 2), ("train", 2, 2)] and len(calls) == 12
    assert doc["date"].endswith("Z") and doc["limit"] == 2 and doc["settings"]["temperature"] == 0.0
    assert doc["machine"]["cpu_count"] >= 1 and doc["machine"]["torch"]
    assert doc["commit"] is None or len(doc["commit"]) == 40
    base = doc["models"]["base_model"]
    assert base["location"] == "models/base" and base["resolved"] == "models/base"
    assert base["hash"] == weights_hash(PROJECT_ROOT / "models/base", [PROJECT_ROOT / "models/base/model.safetensors"])
    assert doc["models"]["embedder"]["hash"]  # the default embedder folder is found and hashed
    path = write_results(doc, tmp_path / "results" / "eval.json")
    assert load_eval_results(path) == json.loads(json.dumps(doc))
    assert [p.name for p in path.parent.iterdir()] == ["eval.json"]  # no temporary file left behind
    page = write_results_doc(path, tmp_path / "results" / "bench.json", tmp_path / "docs" / "results.md",
                             tmp_path / "results" / "fresh.json")
    text = page.read_text(encoding="utf-8")
    assert "### eval_unanswerable" in text and "| RAG | 1.000 | 1.000 | 1.000 | 0.000 |" in text
    # the missing bench says how to make it
    assert "fourpaths bench --repeats 3 --json --output results/bench.json" in text


def test_evaluate_all_rejects_an_unknown_split(settings):
    with pytest.raises(Exception, match="unknown question set"):
        evaluate_all(settings, splits=["holdout"])


def test_available_splits_are_the_files_the_corpus_has(tmp_path):
    assert available_splits(CORPUS) == ("train", "dev", "eval_seen", "eval_unseen", "eval_natural", "eval_unanswerable")
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "eval_seen.jsonl").write_text("{}\n", encoding="utf-8")
    assert available_splits(tmp_path) == ("eval_seen",)


def test_write_results_replaces_the_file_whole(tmp_path):
    path = tmp_path / "eval.json"
    write_results({"splits": {"a": 1}}, path)
    write_results({"splits": {"b": 2}}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"splits": {"b": 2}}
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_model_identity_hashes_the_weight_files(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"weights one")
    first = model_identity("base_model", str(folder))
    assert first["weights"] == ["model.safetensors"] and len(first["hash"]) == 12
    assert model_identity("base_model", str(folder))["hash"] == first["hash"]
    (folder / "config.json").write_text('{"changed": true}', encoding="utf-8")  # not a weight file
    assert model_identity("base_model", str(folder))["hash"] == first["hash"]
    (folder / "model.safetensors").write_bytes(b"weights two")
    assert model_identity("base_model", str(folder))["hash"] != first["hash"]
    assert model_identity("lora_adapter", "")["hash"] is None
    hub = model_identity("base_model", "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert hub["hash"] is None and "hub id" in hub["note"]
