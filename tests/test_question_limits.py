"""Question limits in the unit that binds (issue 28): each path counts a question in its own model's tokens and
refuses, in one line, one it cannot read; a question no path can read is refused as a whole; whatever a path's
libraries raise (tokenizers' PanicException is a BaseException) ends its column with one line; the CLI says in
its exit status whether every path answered, and its --json always holds every path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from conftest import ask, path_columns, start

from fourpaths.answering import pipeline
from fourpaths.answering.paths import PATH_IDS, PATHS
from fourpaths.answering.paths.interface import Answer, AnswerPath
from fourpaths.answering.reader import Reader
from fourpaths.answering.workspace import Workspace
from fourpaths.errors import QuestionRefused, QuestionTooLong

QUESTION_MARKS = "?" * 370  # 370 reader tokens: past the reader's 252, within the bases' positions
JAPANESE = ("ロボットの価格はいくらですか。月額料金について教えてください。" * 20)[:442]  # ~1,330 base tokens


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fourpaths.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)


def test_the_reader_counts_a_question_in_its_own_tokens(micro_settings):
    reader = Workspace(micro_settings).reader()
    limit = reader.question_limit()
    assert limit == 384 - 128 - 3 - 1  # the window, the stride, [CLS] [SEP] [SEP], and one passage token more
    reader.check_question("?" * limit)  # one "?" is one token: the longest question it reads
    with pytest.raises(QuestionTooLong, match=f"the question is {limit + 1} tokens for the reader .* which reads "
                                              f"questions of at most {limit}: shorten it"):
        reader.check_question("?" * (limit + 1))
    assert reader.read("?" * limit, ["The office opens at nine."]).passage in (0, None)  # read, not a panic


def test_the_answer_head_refuses_what_it_would_cut_off(micro_settings):
    head = Workspace(micro_settings).answer_head()
    with pytest.raises(QuestionTooLong, match=f"for the answer head .* which reads at most {head.max_length}"):
        head.check_question(QUESTION_MARKS)
    head.check_question("How many days of leave?")


def test_a_path_that_cannot_read_the_question_says_so_and_the_others_answer(micro_settings, warm_index):
    results = pipeline.ask(QUESTION_MARKS, micro_settings)
    assert list(results) == list(PATH_IDS)
    assert "which reads questions of at most 252" in results["rag"]
    assert "which reads at most" in results["lora"]
    for path_id, result in results.items():
        if isinstance(result, str):
            assert "\n" not in result and "shorten" in result, (path_id, result)
    assert any(not isinstance(result, str) for result in results.values())  # the micro bases read 370 "?"


def test_a_question_no_path_can_read_is_refused_as_a_whole(micro_settings, warm_index):
    with pytest.raises(QuestionRefused) as refused:
        pipeline.ask(JAPANESE, micro_settings)
    assert sorted(refused.value.reasons) == sorted(PATH_IDS)
    assert str(refused.value).startswith("no path can read a question this long: shorten it (prompt: ")
    assert "\n" not in str(refused.value)


class _PanickingPath(AnswerPath):
    """A path whose library panics: the reader's tokenizer asked to cut windows it cannot (a real
    pyo3_runtime.PanicException, which derives from BaseException), past the reader's own check."""

    id = "panics"
    title = "Panics"
    short_title = "Panics"
    summary = "calls the reader's tokenizer with a question that leaves no room for its stride"

    def answer(self, question, settings, workspace) -> Answer:
        workspace.reader().encode("?" * 300, ["word " * 500])
        raise AssertionError("the tokenizer did not panic")


def test_a_library_panic_ends_its_column_with_one_line(micro_settings, warm_index, monkeypatch):
    with pytest.raises(BaseException) as raised:  # the panic is real, and no Exception
        Workspace(micro_settings).reader().encode("?" * 300, ["word " * 500])
    assert not isinstance(raised.value, Exception)
    monkeypatch.setitem(PATHS, "panics", _PanickingPath())
    results = pipeline.ask("What does the office do?", micro_settings, ["panics", "lora"])
    assert list(results) == ["panics", "lora"]
    assert results["panics"].startswith("Panics failed: PanicException: ") and "\n" not in results["panics"]
    assert not isinstance(results["lora"], str)


def test_the_reader_itself_never_panics_on_a_long_question(micro_settings):
    reader: Reader = Workspace(micro_settings).reader()
    with pytest.raises(QuestionTooLong):
        reader.read(QUESTION_MARKS, ["A passage."])


# ---------------------------------------------------------------------------------------------------------------
# The command line: every path in --json, one line on stderr, the exit status


def test_cli_370_question_marks_every_path_present_and_exit_1(micro_env):
    done = run_cli("ask", QUESTION_MARKS, "--json")
    answers = json.loads(done.stdout)["answers"]
    assert list(answers) == list(PATH_IDS)
    failed = [path for path, answer in answers.items() if "error" in answer]
    assert {"rag", "lora"} <= set(failed)
    for path, answer in answers.items():
        assert ("error" in answer) != ("text" in answer), answer
        assert "\n" not in answer.get("error", ""), answer
    assert done.returncode == 1  # not every path answered
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"fourpaths: error: {len(failed)} of 4 paths failed (")


def test_cli_japanese_question_refused_with_every_path_in_json_and_exit_2(micro_env):
    done = run_cli("ask", JAPANESE, "--json")
    document = json.loads(done.stdout)
    assert list(document["answers"]) == list(PATH_IDS)
    assert all("shorten" in answer["error"] and "\n" not in answer["error"] for answer in document["answers"].values())
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"fourpaths: error: {document['error']}"]
    assert "Traceback" not in done.stderr


def test_cli_exit_0_only_when_every_path_answered(micro_env):
    done = run_cli("ask", "How many days of paid annual leave?", "--json")
    assert done.returncode == 0, done.stderr
    assert all("text" in answer for answer in json.loads(done.stdout)["answers"].values())


# ---------------------------------------------------------------------------------------------------------------
# The page: each column's line; a question no path reads is refused above the columns


def test_the_page_ends_each_column_that_cannot_read_the_question(micro_env, monkeypatch):
    at = ask(start(monkeypatch), QUESTION_MARKS)
    columns = path_columns(at)
    assert "which reads questions of at most 252" in columns["rag"].error[0].value.replace("\\", "")
    assert any(not column.error for column in columns.values())


def test_the_page_refuses_a_question_no_path_can_read(micro_env, monkeypatch):
    at = ask(start(monkeypatch), JAPANESE)
    assert any("no path can read a question this long" in error.value for error in at.error)


def test_generated_rag_refuses_by_the_base_positions(micro_settings, warm_index):
    settings = replace(micro_settings, rag_answer="generated")
    with pytest.raises(QuestionTooLong, match="reads at most"):
        PATHS["rag"].check_question(JAPANESE, settings, Workspace(settings))
