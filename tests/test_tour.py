"""The Tour's five steps: each question comes from the question sets (or the live document), and each takeaway
is computed from the results files, or names the command that makes them."""

from __future__ import annotations

import json
from dataclasses import replace

from conftest import DOC

from fourpaths.config import load_settings
from fourpaths.views.tour import LIVE_DOCUMENT, LIVE_QUESTION, STEPS, step_question, takeaway

FRESH = {"documents": [{"name": "a.md"}, {"name": "b.md"}], "questions": 12, "searchable_s_median": 0.2,
         "before": {"rag": {"accuracy": 0.0}, "lora": {"accuracy": 0.0}}, "after_adding": {"rag": {"accuracy": 0.75}}}


def test_every_step_has_its_question_and_reference_in_the_shipped_sets():
    root = load_settings().corpus_root
    for step in STEPS:
        item = step_question(step, root)
        if step.split is None:
            assert item is LIVE_QUESTION and item.answer.split()[0] in LIVE_DOCUMENT
        else:
            assert (item.id, item.split) == (step.question_id, step.split)
            assert bool(item.answer) == (step.split != "eval_unanswerable")


def test_takeaways_come_from_the_results_files(tmp_path):
    doc = json.loads(json.dumps(DOC))
    doc["splits"]["eval_unanswerable"] = {"n": 3, "unanswerable": True, "paths": {
        "prompt": {"strict": 1.0, "abstained": 1.0}, "rag": {"strict": 0.5, "abstained": 0.5}}}
    doc["splits"]["eval_seen"]["paths"]["prompt"]["abstained"] = 1.0
    (tmp_path / "eval.json").write_text(json.dumps(doc), encoding="utf-8")
    (tmp_path / "fresh.json").write_text(json.dumps(FRESH), encoding="utf-8")
    settings = replace(load_settings(), results_dir=str(tmp_path))
    lines = {step.key: takeaway(step, settings) for step in STEPS}
    assert lines["knows"] == ("Strictly right on trained facts, new words (2 questions): LoRA 0.50, RAG 0.50, "
                              "Prompt 0.00, Scratch 0.00.")
    assert lines["changed"].startswith("Strictly right on facts that arrived after training (2 questions): RAG 1.00")
    assert lines["unanswerable"] == ("Says it does not know when no document answers (3 questions): Prompt 1.00, "
                                     "RAG 0.50. But Prompt says so on 1.00 of trained facts too: it never answers.")
    assert lines["live"] == ("Measured on 2 documents no model saw (12 questions): searchable 0.20 s after adding "
                             "(median); RAG right on 0.00 of them before, 0.75 after; LoRA 0.00 until it is taught.")
    assert lines["choose"].startswith("Choose a path, for its default team (accuracy: mostly right;")
    assert "RAG: recommended" in lines["choose"] and "1.00 of facts that arrived after training" in lines["choose"]


def test_without_results_each_takeaway_names_the_command(tmp_path):
    settings = replace(load_settings(), results_dir=str(tmp_path))
    for step in STEPS[:4]:
        assert "Not measured yet: `fourpaths " in takeaway(step, settings)
