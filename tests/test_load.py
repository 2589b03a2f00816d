"""Many people at once: questions admitted first come, first served across the process (package tests on the micro
models), and the real app under several browser sessions at once (browser tests, as tests/test_browser.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import replace

import pytest

from fourpaths.answering.admission import ADMISSION
from fourpaths.answering.paths import PATH_IDS, PATHS
from fourpaths.answering.pipeline import ask_stream
from fourpaths.cli import main
from fourpaths.config import load_settings, validate_settings
from fourpaths.errors import FourpathsError
from fourpaths.types import DoneEvent, ErrorEvent, TokenEvent, WaitEvent

FIRST = "How many days of annual leave do Quillmoor employees get?"
SECOND = "How much does Loomwork cost per robot per month?"
THIRD = "What does the Ferret AMR carry?"
HANG_GUARD_S = 300  # a stream still blocked after this long is waiting for a place nobody will give back
LOAD_KEYS = {"sessions": int, "questions": int, "errors": int, "cross_session_answers": int, "p50_ms": float,
             "p95_ms": float, "max_ms": float, "single_session_ms": float, "peak_server_mb": float}


@pytest.fixture
def empty_line():
    """No question answering or waiting before the test, and none left after it."""
    assert ADMISSION.counts() == (0, 0)
    yield
    assert ADMISSION.counts() == (0, 0)


def drained(events) -> list:
    """The rest of a stream, drained on a thread so that a stream that never gets its place fails the test
    instead of hanging it."""
    result: list = []
    worker = threading.Thread(target=lambda: result.extend(events), daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    assert not worker.is_alive(), f"the stream was still waiting for its place after {HANG_GUARD_S} s"
    return result


def assert_answered(events: list) -> None:
    """Every path answered; no more waiting once the answers began."""
    done = {event.path for event in events if isinstance(event, DoneEvent)}
    assert done == set(PATH_IDS), [event for event in events if isinstance(event, ErrorEvent)]
    waits = [event for event in events if isinstance(event, WaitEvent)]
    assert waits in ([], [WaitEvent(0)]) and (not waits or events[0] == WaitEvent(0)), waits


def test_questions_wait_in_arrival_order_and_say_how_many_are_ahead(micro_settings, empty_line):
    first = ask_stream(FIRST, micro_settings)
    assert isinstance(next(first), (TokenEvent, DoneEvent))  # admitted at once: no WaitEvent
    second, third = ask_stream(SECOND, micro_settings), ask_stream(THIRD, micro_settings)
    assert next(second) == WaitEvent(1)
    assert next(third) == WaitEvent(2)  # the one answering, and the second, which came first
    assert_answered(drained(first))
    assert next(third) == WaitEvent(1)  # the second got the place, not the third
    second_events = drained(second)
    assert second_events[0] == WaitEvent(0)  # its answering starts
    assert_answered(second_events)
    third_events = drained(third)
    assert third_events[0] == WaitEvent(0)
    assert_answered(third_events)


def test_a_waiting_questions_latency_counts_from_when_it_was_asked(micro_settings, empty_line):
    import time

    first = ask_stream(FIRST, micro_settings)
    next(first)
    second = ask_stream(SECOND, micro_settings)
    assert next(second) == WaitEvent(1)
    waiting_from = time.perf_counter()  # later than the second was asked
    drained(first)
    waited_ms = 1000 * (time.perf_counter() - waiting_from)  # earlier than the second's paths started
    traces = [event.trace for event in drained(second) if isinstance(event, DoneEvent)]
    assert len(traces) == len(PATH_IDS)
    for trace in traces:
        assert trace.total_ms >= waited_ms and trace.ttft_ms >= waited_ms, (trace.path, trace.total_ms, waited_ms)


def test_a_wider_admission_answers_that_many_at_once(micro_settings, empty_line):
    two = replace(micro_settings, concurrent_questions=2)
    first, second, third = (ask_stream(q, two) for q in (FIRST, SECOND, THIRD))
    assert isinstance(next(first), (TokenEvent, DoneEvent))
    assert isinstance(next(second), (TokenEvent, DoneEvent))  # room for two
    assert next(third) == WaitEvent(2)
    assert ADMISSION.counts() == (2, 1)
    for stream in (first, second):
        assert_answered(drained(stream))
    third_events = drained(third)
    assert third_events[0] == WaitEvent(0)
    assert_answered(third_events)


def test_a_stream_closed_or_dropped_gives_its_place_to_the_next(micro_settings, empty_line):
    """A browser closed while its question waited (the generator closed), or while it was answered (the generator
    dropped mid-answer: garbage-collected, as when Streamlit stops the script): the next question gets the place."""
    answering = ask_stream(FIRST, micro_settings)
    next(answering)
    waiting = ask_stream(SECOND, micro_settings)
    last = ask_stream(THIRD, micro_settings)
    assert next(waiting) == WaitEvent(1)
    assert next(last) == WaitEvent(2)
    waiting.close()
    assert next(last) == WaitEvent(1)  # one fewer ahead
    del answering  # its paths' threads stop at their next event; the last of them gives the place back
    events = drained(last)
    assert events[0] == WaitEvent(0)
    assert_answered(events)


def test_a_stream_never_started_takes_no_place(micro_settings, empty_line):
    ask_stream(FIRST, micro_settings)  # created, never iterated: it never joined the line
    assert ADMISSION.counts() == (0, 0)
    assert_answered(list(ask_stream(SECOND, micro_settings)))


def test_the_compare_page_answers_a_question_that_had_to_wait(micro_env, monkeypatch, empty_line):
    """AppTest runs the page in this process: another session's question holds the one place while the page's
    question waits, then lets go; the page goes on to draw all four answers. (What it shows while waiting is
    transient; `fourpaths load` counts the sessions whose browser drew it.)"""
    import time

    from conftest import path_columns, start, timing_captions

    at = start(monkeypatch)
    holder = ask_stream(FIRST, micro_env)
    next(holder)  # admitted: holds the place
    at.text_area[0].input(SECOND)
    at.button[0].click()
    page = threading.Thread(target=at.run, daemon=True)
    page.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while ADMISSION.counts() != (1, 1) and page.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # until the page's question is in line behind the holder
    assert ADMISSION.counts() == (1, 1), "the page's question never waited"
    assert_answered(drained(holder))
    page.join(HANG_GUARD_S)
    assert not page.is_alive(), f"the page was still running after {HANG_GUARD_S} s"
    assert not at.exception, [e.value for e in at.exception]
    assert [s.label for s in at.status] == [f"{len(PATH_IDS)} of {len(PATH_IDS)} paths answered"]
    for path_id, column in path_columns(at).items():
        assert timing_captions(column) and not column.error, path_id


@pytest.mark.parametrize("raw", ["0", "-2", "two"])
def test_concurrent_questions_below_one_or_not_a_number_is_refused_with_its_name(raw):
    with pytest.raises(FourpathsError, match="concurrent_questions"):
        validate_settings(load_settings(environ={"FOURPATHS_CONCURRENT_QUESTIONS": raw}))


def test_load_refuses_bad_numbers_in_one_line(capsys):
    assert main(["load", "--sessions", "0", "--questions", "3"]) == 2
    assert capsys.readouterr().err.strip() == "fourpaths: error: --sessions and --questions must be at least 1"
    assert main(["load", "--sessions", "2", "--questions", "1", "--concurrent-questions", "0"]) == 2
    assert "--concurrent-questions must be at least 1" in capsys.readouterr().err


def test_load_without_chromium_is_one_line_and_non_zero(micro_env, monkeypatch, capsys):
    monkeypatch.setattr("fourpaths.measure.browser.find_chromium", lambda: None)  # a machine with no Chromium
    assert main(["load", "--sessions", "1", "--questions", "1"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("fourpaths: error: no Chromium found") and error.count("\n") == 1


# --- browser ------------------------------------------------------------------------------------------------------

async def _sessions_at_once(address: str, chromium: str, questions: list[str]):
    """One browser, a context (a Streamlit session) per question; all open, then all ask at once."""
    from playwright.async_api import async_playwright

    from fourpaths.measure.browser import CHROMIUM_ARGS
    from fourpaths.measure.load_test import (
        QUESTION_TIMEOUT_MS,
        SessionRun,
        open_session,
        run_session,
    )

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            pages = [(await open_session(browser, address))[1] for _ in questions]
            runs = [SessionRun([question]) for question in questions]
            await asyncio.gather(*(run_session(page, run, QUESTION_TIMEOUT_MS * len(questions))
                                   for page, run in zip(pages, runs)))
            typed = [await page.get_by_role("textbox", name="Question", exact=True).input_value() for page in pages]
            return runs, typed
        finally:
            await browser.close()


@pytest.mark.browser
def test_three_sessions_at_once_each_see_only_their_own_answers(micro_env, tmp_path):
    from conftest import chromium_or_skip

    from fourpaths.measure.browser import served_app
    from fourpaths.measure.load_test import question_sets

    chromium = chromium_or_skip()
    questions = [questions[0] for questions in question_sets(micro_env, 3, 1)]
    assert len(set(questions)) == 3
    log = tmp_path / "streamlit.log"
    with served_app(log) as address:
        runs, typed = asyncio.run(_sessions_at_once(address, chromium, questions))
    assert typed == questions
    titles = {PATHS[path_id].title for path_id in PATH_IDS}
    for run, question in zip(runs, questions):
        assert run.errors == [] and run.ms is not None, (question, run.errors)
        columns = run.shown[question]
        assert set(columns) == titles
        for title, column in columns.items():
            assert column["error"] is None and column["answer"] is not None, (question, title, column)
            assert question in column["input"], (question, title, column["input"])
            others = [other for other in questions if other != question]
            assert not any(other in column["input"] for other in others), (question, title, column["input"])


@pytest.mark.browser
def test_load_command_measures_two_sessions_on_the_micro_models(micro_env, tmp_path, capsys):
    from conftest import chromium_or_skip

    chromium_or_skip()
    output = tmp_path / "load.json"
    code = main(["load", "--sessions", "2", "--questions", "1", "--json", "--output", str(output)])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 0, (document.get("error_messages"), captured.err)
    assert json.loads(output.read_text(encoding="utf-8")) == document
    for key, kind in LOAD_KEYS.items():
        assert isinstance(document[key], kind), (key, document[key])
    assert (document["sessions"], document["questions"]) == (2, 1)
    assert document["errors"] == 0 and document["cross_session_answers"] == 0, document["error_messages"]
    assert document["sessions_finished"] == 2 and document["answers_unlike_single_session"] == 0
    assert 0 < document["p50_ms"] <= document["p95_ms"] <= document["max_ms"]
    assert document["single_session_ms"] > 0 and document["peak_server_mb"] > 100  # a Python process with torch


@pytest.mark.browser
def test_load_with_a_teaching_session_measures_latency_and_memory(micro_env, tmp_path, capsys):
    """`fourpaths load --teach 1`: a session teaches on the Fresh knowledge page while one asks; the figures of
    both, the memory idle, at its peak and after every session closed."""
    from test_browser import chromium_or_skip

    chromium_or_skip()
    output = tmp_path / "load.json"
    code = main(["load", "--sessions", "1", "--questions", "1", "--teach", "1", "--teach-seconds", "10", "--json",
                 "--output", str(output)])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 0, (document.get("error_messages"), captured.err)
    teaching = document["teaching"]
    assert teaching["sessions"] == 1 and teaching["askers_finished"] == 1
    teacher = teaching["teachers"][0]
    assert teacher["error"] is None and "steps in" in teacher["cost"] and "Teaching: step" in teacher["states"]
    assert teaching["askers_p95_ms"] > 0 and teaching["askers_p95_without_teaching_ms"] > 0
    assert 100 < teaching["idle_server_mb"] <= teaching["peak_server_mb_while_teaching"]
    warm_up = teaching["warm_up_teacher"]  # the process's first job, before the idle figure
    assert warm_up["error"] is None and "steps in" in warm_up["cost"] and teaching["cold_idle_server_mb"] > 100
    assert teaching["server_mb_after_close"] > 100 and teaching["server_anonymous_mb_after_close"] > 0
