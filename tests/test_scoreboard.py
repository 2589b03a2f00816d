"""The Scoreboard's frames, sentence and merge, on a results document shaped as `fourpaths eval --all` writes it.
(The page, and re-running a set on the micro models, are in tests/test_pages.py.)"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import DOC, figures

from fourpaths.config import PROJECT_ROOT, Settings, results_file
from fourpaths.errors import FourpathsError
from fourpaths.measure.results_doc import EVAL_COMMAND, load_eval_results
from fourpaths.views import scoreboard


def test_figures_frame_has_a_row_per_set_and_path():
    frame = scoreboard.figures_frame(DOC)
    assert len(frame) == 8
    rag_unseen = frame[(frame["id"] == "eval_unseen") & (frame["path"] == "RAG")].iloc[0]
    assert rag_unseen["set"] == "facts that arrived after training"  # the set by what it measures
    assert rag_unseen["Strict"] == 1.0 and rag_unseen["p95 ms"] == 70.0 and rag_unseen["n"] == 2
    assert rag_unseen["measured"] == DOC["date"]
    assert list(frame.columns[:3]) == ["set", "path", "n"]


def test_chart_frame_is_a_row_per_set_and_path():
    frame = scoreboard.chart_frame(DOC, "accuracy")
    assert list(dict.fromkeys(frame["id"])) == ["eval_seen", "eval_unseen"]
    assert list(frame["path"][:4]) == ["Prompt", "LoRA", "RAG", "Scratch"]
    value = frame[(frame["id"] == "eval_seen") & (frame["path"] == "LoRA")]["value"].iloc[0]
    assert value == 0.5
    with pytest.raises(FourpathsError, match="unknown figure"):
        scoreboard.chart_frame(DOC, "speed")


def test_question_frame_filters_by_path_and_outcome():
    every = scoreboard.question_frame(DOC, "eval_seen")
    assert len(every) == 8
    right = scoreboard.question_frame(DOC, "eval_seen", outcome="right")
    assert sorted(zip(right["id"], right["path"])) == [("s1", "LoRA"), ("s1", "RAG"), ("s2", "RAG")]
    wrong_lora = scoreboard.question_frame(DOC, "eval_seen", paths=["lora"], outcome="wrong")
    assert list(wrong_lora["answer"]) == ["$2"] and list(wrong_lora["reference"]) == ["$1"]
    errors = scoreboard.question_frame(DOC, "eval_seen", outcome="error")
    assert list(errors["answer"]) == ["out of memory"]  # the error shown where the answer would be
    abstained = scoreboard.question_frame(DOC, "eval_seen", outcome="abstained")
    assert list(abstained["path"]) == ["Prompt"]
    assert scoreboard.question_frame(DOC, "eval_unseen").empty
    with pytest.raises(FourpathsError, match="no figures for question set 'train'"):
        scoreboard.question_frame(DOC, "train")
    with pytest.raises(FourpathsError, match="unknown outcome"):
        scoreboard.question_frame(DOC, "eval_seen", outcome="maybe")


def test_summary_line_is_computed_from_the_figures():
    assert scoreboard.summary_line(DOC) == (
        "Strictly right most often: LoRA and RAG on trained facts, new words (0.50); RAG on facts that arrived "
        "after training (1.00). "
        "Fastest: LoRA, a median answer in 5 ms averaged over the sets.")
    nobody = {"splits": {"train": {"paths": {"rag": figures(0, 0, 0, 0, 0, 0)}}}}
    assert scoreboard.summary_line(nobody) == "Strictly right most often: none on trained facts, same words."


def test_dev_is_in_the_table_but_not_in_the_charts_or_the_summary():
    """dev is what the recipes choose on: its figures are listed, never shown as a result."""
    with_dev = {**DOC, "splits": {**DOC["splits"], "dev": {"n": 2, "paths": {
        "rag": figures(1.0, 1.0, 1.0, 0.0, 9, 9), "lora": figures(0.0, 0.0, 0.0, 1.0, 9, 9)}}}}
    assert "dev" in set(scoreboard.figures_frame(with_dev)["id"])
    assert "dev" not in set(scoreboard.chart_frame(with_dev)["id"])
    assert scoreboard.summary_line(with_dev) == scoreboard.summary_line(DOC)
    assert scoreboard.abstention_frame(with_dev).equals(scoreboard.abstention_frame(DOC))


def test_provenance_line():
    line = scoreboard.provenance(DOC)
    assert line.startswith("Measured 2026-12-06T10:00:00Z on Test CPU, 2 CPUs")
    assert "commit 0123456789ab with uncommitted changes" in line and "first 2 questions" in line


def test_load_says_which_command_makes_the_file(tmp_path: Path):
    settings = Settings(results_dir=str(tmp_path))
    with pytest.raises(FourpathsError, match=f"not found; run `{EVAL_COMMAND}`"):
        scoreboard.load(settings)
    (tmp_path / "eval.json").write_text("{\"splits\": ", encoding="utf-8")
    with pytest.raises(FourpathsError, match="not valid JSON"):
        scoreboard.load(settings)
    (tmp_path / "eval.json").write_text(json.dumps({"splits": {"train": {"n": 1}}}), encoding="utf-8")
    with pytest.raises(FourpathsError, match="has no \"paths\" figures"):
        scoreboard.load(settings)


def test_results_dir_relative_to_the_project():
    assert results_file(Settings(), "eval") == PROJECT_ROOT / "results" / "eval.json"
    assert results_file(Settings(results_dir="/tmp/x"), "bench") == Path("/tmp/x/bench.json")


def test_merge_split_replaces_one_set_and_stamps_it(tmp_path: Path):
    settings = Settings(results_dir=str(tmp_path))
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(DOC), encoding="utf-8")
    new = dict(DOC["splits"]["eval_seen"], n=1)
    scoreboard.merge_split(path, "eval_seen", new, settings, limit=1, wall_s=3.5)
    doc = load_eval_results(path)
    assert doc["splits"]["eval_unseen"] == DOC["splits"]["eval_unseen"]
    measured = doc["splits"]["eval_seen"].pop("measured")
    assert doc["splits"]["eval_seen"] == new
    assert measured["limit"] == 1 and measured["wall_s"] == 3.5 and measured["date"].endswith("Z")
    assert measured["models"]["base_model"]["location"] == "models/base"
    assert doc["updated"] == measured["date"] and doc["date"] == DOC["date"]
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]  # written whole, no temporary left


def test_merge_split_starts_a_document_when_there_is_none(tmp_path: Path):
    settings = Settings(results_dir=str(tmp_path))
    path = tmp_path / "eval.json"
    path.write_text("not json", encoding="utf-8")
    scoreboard.merge_split(path, "eval_unseen", DOC["splits"]["eval_unseen"], replace(settings, temperature=0.7), 2)
    doc = scoreboard.load(settings)
    assert list(doc["splits"]) == ["eval_unseen"] and doc["limit"] == 2
    assert doc["settings"]["temperature"] == 0.0 and doc["machine"]["cpu_count"] >= 1
    assert doc["path_ids"] == ["prompt", "lora", "rag", "scratch"]


def test_start_rerun_refuses_bad_requests():
    with pytest.raises(FourpathsError, match="unknown question set 'holdout'"):
        scoreboard.start_rerun(Settings(), "holdout")
    with pytest.raises(FourpathsError, match="at least 1"):
        scoreboard.start_rerun(Settings(), "train", limit=0)


def test_question_sets_are_the_corpus_files(small_corpus):
    assert scoreboard.question_sets(Settings(corpus_root=str(small_corpus))) == ["train", "eval_seen", "eval_unseen"]
