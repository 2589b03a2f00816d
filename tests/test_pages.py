"""The Scoreboard, Cost to build and Choose a path pages through Streamlit's AppTest, on the micro models and on
results files written by the real `evaluate_all` and `run_bench` on them."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from fourpaths.config import PROJECT_ROOT
from fourpaths.measure.results_doc import BENCH_COMMAND, EVAL_COMMAND, load_eval_results
from fourpaths.training.summary import read_training_summary
from fourpaths.views import costs

PAGES = PROJECT_ROOT / "pages"
TIMEOUT = 300  # generous: a shared 2-core machine
TITLES = ["Prompt", "LoRA", "RAG", "Scratch"]


@pytest.fixture(scope="module")
def measured(micro_settings, warm_index, tmp_path_factory) -> Path:
    """A results folder holding what `fourpaths eval --all --limit 2` and `fourpaths bench --json` write, made by
    the same functions on the micro models."""
    from fourpaths.measure.bench import run_bench
    from fourpaths.measure.evaluation import evaluate_all, write_results
    from fourpaths.retrieval.files import write_json_atomically

    folder = tmp_path_factory.mktemp("results")
    write_results(evaluate_all(micro_settings, limit=2), folder / "eval.json")
    write_json_atomically(run_bench(micro_settings, cold_start=False), folder / "bench.json")
    return folder


@pytest.fixture
def results(measured, tmp_path) -> Path:
    """A copy of the measured results for one test, which may rewrite it."""
    folder = tmp_path / "results"
    shutil.copytree(measured, folder)
    return folder


def page(name: str, settings, results_dir: Path) -> AppTest:
    """One page script, its settings in the session as app.py puts them there; first run done."""
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    at.session_state["settings"] = replace(settings, results_dir=str(results_dir))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def charts(at: AppTest) -> list:
    return list(at.main.get("vega_lite_chart"))


# ---------------------------------------------------------------------------
# Scoreboard


def test_scoreboard_shows_the_results_file(micro_settings, results):
    doc = load_eval_results(results / "eval.json")
    at = page("scoreboard", micro_settings, results)
    assert texts(at.title) == ["Scoreboard"] and not at.warning
    assert len(charts(at)) == 2  # how often right; how often it says it does not know
    from fourpaths.views import scoreboard
    from fourpaths.views.scoreboard import split_title

    assert scoreboard.summary_line(doc) in texts(at.markdown)
    figures = at.dataframe[0].value
    assert len(figures) == 4 * len(doc["splits"]) and set(figures["id"]) == set(doc["splits"])
    assert set(figures["set"]) == {split_title(split) for split in doc["splits"]}
    assert "trained facts, new words" in set(figures["set"])  # people's words, the id beside
    assert list(figures["n"]) == [2] * len(figures)
    questions = at.dataframe[1].value
    assert len(questions) == 2 * 4  # the first set's two questions, four paths each
    at.multiselect(key="questions_paths").set_value(["rag"]).run()
    at.selectbox(key="questions_outcome").set_value("wrong").run()
    filtered = at.dataframe[1].value
    assert set(filtered["path"]) <= {"RAG"} and not filtered["right"].any()
    at.radio(key="scoreboard_metric").set_value("f1").run()
    assert not at.exception


def test_scoreboard_runs_a_set_again_and_shows_the_new_figures(micro_settings, results):
    doc = load_eval_results(results / "eval.json")
    del doc["splits"]["eval_seen"]  # so the new figures show as rows the page did not have
    (results / "eval.json").write_text(json.dumps(doc), encoding="utf-8")
    at = page("scoreboard", micro_settings, results)
    assert "eval_seen" not in set(at.dataframe[0].value["id"])
    at.selectbox(key="rerun_split").set_value("eval_seen")
    at.number_input(key="rerun_limit").set_value(0)
    at.button(key="rerun_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["scoreboard_rerun"]
    assert job.split == "eval_seen" and job.limit is None
    job.wait(TIMEOUT)
    assert job.state == "done", job.error
    at.run()  # what the page's polling does: the panel sees the job done and redraws the page
    assert not at.exception, [e.value for e in at.exception]
    success = texts(at.success)
    assert len(success) == 1 and success[0].startswith("eval_seen (trained facts, new words) re-measured on "), success
    written = load_eval_results(results / "eval.json")
    assert written["splits"]["eval_seen"]["measured"]["limit"] is None
    assert set(written["splits"]) == set(doc["splits"]) | {"eval_seen"}
    shown = at.dataframe[0].value
    seen = shown[shown["id"] == "eval_seen"].set_index("path")
    for path_id, figures in written["splits"]["eval_seen"]["paths"].items():
        assert seen.loc[{"prompt": "Prompt", "lora": "LoRA", "rag": "RAG", "scratch": "Scratch"}[path_id],
                        "Strict"] == figures["strict"]


def test_a_partial_run_is_kept_beside_the_full_figures_never_in_their_place(micro_settings, results):
    before = (results / "eval.json").read_bytes()
    at = page("scoreboard", micro_settings, results)
    at.selectbox(key="rerun_split").set_value("eval_seen")
    at.number_input(key="rerun_limit").set_value(1)
    at.button(key="rerun_button").click().run()
    job = at.session_state["scoreboard_rerun"]
    job.wait(TIMEOUT)
    assert job.state == "done", job.error
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert (results / "eval.json").read_bytes() == before
    partial = load_eval_results(results / "eval-partial.json")
    assert partial["splits"]["eval_seen"]["n"] == 1 and partial["splits"]["eval_seen"]["measured"]["limit"] == 1
    shown = at.dataframe[-1].value  # the partial runs' table, under the panel
    assert set(shown["questions"]) == {"first 1 of 2"} and set(shown["id"]) == {"eval_seen"}


@pytest.mark.parametrize("content", [None, "{\"splits\": ", json.dumps({"date": "today"})])
def test_scoreboard_without_a_usable_file_says_the_command(micro_settings, tmp_path, content):
    if content is not None:
        (tmp_path / "eval.json").write_text(content, encoding="utf-8")
    at = page("scoreboard", micro_settings, tmp_path)
    warnings = texts(at.warning)
    assert len(warnings) == 1 and f"run `{EVAL_COMMAND}`" in warnings[0]
    assert at.button(key="rerun_button")  # re-measuring a set still works: it makes the file


# ---------------------------------------------------------------------------
# Cost to build


def test_cost_shows_each_models_figures_and_loss_curves(micro_settings, micro_models, results):
    at = page("cost", micro_settings, results)
    assert texts(at.title) == ["Cost to build"] and not at.warning
    table = at.table[0].value
    assert list(table.columns) == TITLES
    for title, name in zip(TITLES, ("base", "lora", "reader", "scratch")):
        summary = read_training_summary(str(micro_models[name]))
        prefix = costs.BASE_PRETRAINING if name == "base" else ""  # the prompt path trains nothing: its base's
        assert table.loc["Steps", title] == f"{prefix}{summary['steps']:,}"
    head = read_training_summary(str(micro_models["lora"]))
    assert table.loc["Trainable parameters", "LoRA"] == f"{head['trainable_parameters']:,}"
    assert table.loc["Parameters", "LoRA"] == f"{head['total_parameters']:,}"
    bench = json.loads((results / "bench.json").read_text())
    assert table.loc["Answer ms", "RAG"] == costs.display_table(
        costs.cost_table(costs.path_costs(micro_settings), bench)).loc["Answer ms", "RAG"]
    assert [m.value for m in at.metric if m.label == "Trained for the path"] == ["nothing"]
    assert len(charts(at)) == 4  # a loss curve per model
    assert "Steps" in [m.label for m in at.metric]
    assert any(m.label == "Peak memory, every model loaded (MB)" for m in at.metric)
    assert any(c.startswith("LoRA: ") and "parameters trained" in c for c in texts(at.caption))


def test_cost_without_bench_says_the_command(micro_settings, tmp_path):
    at = page("cost", micro_settings, tmp_path)
    warnings = texts(at.warning)
    assert len(warnings) == 1 and f"run `{BENCH_COMMAND}`" in warnings[0]
    assert list(at.table[0].value.columns) == TITLES and len(charts(at)) == 4  # the rest still works


# ---------------------------------------------------------------------------
# Choose a path


class RecordingStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media storage, kept reachable after the run so a test can read a download."""

    made: list[MemoryMediaFileStorage] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingStorage.made.append(self)


def downloaded(at: AppTest) -> str:
    url = at.get("download_button")[0].proto.url
    return RecordingStorage.made[-1].get_file(url.rsplit("/", 1)[-1]).content.decode("utf-8")


def ranking(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["path"])


def test_choose_ranks_on_the_inputs_and_downloads_the_evidence(micro_settings, results, monkeypatch):
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingStorage)
    at = page("choose", micro_settings, results)
    assert texts(at.title) == ["Choose a path"] and not at.warning
    at.select_slider(key="choose_examples").set_value("none")
    at.select_slider(key="choose_expertise").set_value("none")
    at.select_slider(key="choose_change").set_value("weekly or faster").run()
    first = ranking(at)
    assert "RAG + fine-tuned" not in first
    at.select_slider(key="choose_examples").set_value("thousands or more")
    at.select_slider(key="choose_expertise").set_value("strong")
    at.select_slider(key="choose_compute").set_value("a GPU cluster")
    at.select_slider(key="choose_change").set_value("rarely (yearly or less)").run()
    assert not at.exception, [e.value for e in at.exception]
    second = ranking(at)
    assert second != first and "RAG + fine-tuned" in second
    summary = downloaded(at)
    doc = load_eval_results(results / "eval.json")
    rag_seen = doc["splits"]["eval_seen"]["paths"]["rag"]["strict"]
    assert f"RAG: {rag_seen:.2f} strict on eval_seen" in summary
    assert "- How often the knowledge changes: rarely (yearly or less)" in summary
    assert f"| 1 | {second[0]} |" in summary and f"measured {doc['date']}" in summary
    assert f"lora_adapter = `{micro_settings.lora_adapter}`" in summary
    assert "RAG: an answer in " in summary  # from bench.json


def test_choose_without_results_says_both_commands(micro_settings, tmp_path):
    at = page("choose", micro_settings, tmp_path)
    warnings = " ".join(texts(at.warning))
    assert f"run `{EVAL_COMMAND}`" in warnings and f"run `{BENCH_COMMAND}`" in warnings
    assert len(ranking(at)) == 4  # the rules still rank; only the measured rule and figures are missing
