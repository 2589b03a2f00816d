"""Teaching as a managed job (issue 28), on the micro models: one job at a time per process, the others queued with
their place; a job gives way to questions; a session's end cancels its job, writes nothing and frees what it held."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fourpaths.answering.admission import ADMISSION, Admission
from fourpaths.fresh.jobs import QUIET_S, TEACHING, Visitor
from fourpaths.fresh.proposals import propose_pairs

DATA = Path(__file__).parent / "data" / "fresh"
FERRY = DATA / "brindlewick-ferry-timetable.md"
CLINIC = DATA / "halloway-clinic-faq.md"


def visitor_with(settings, document: Path) -> Visitor:
    visitor = Visitor(settings)
    visitor.overlay.add_text(document.name, document.read_text(encoding="utf-8"))
    return visitor


def pairs_of(visitor: Visitor, limit: int = 4):
    return propose_pairs(visitor.overlay.documents()[0].document, limit=limit)


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def visitors(micro_settings, warm_index):
    made = []

    def make(document: Path) -> Visitor:
        made.append(visitor_with(micro_settings, document))
        return made[-1]

    yield make
    for visitor in made:
        visitor.close()
    assert TEACHING.counts() == (0, 0), "a job kept its place in the line"


def test_teaching_jobs_wait_in_line_and_say_their_place(visitors):
    first, second = visitors(FERRY), visitors(CLINIC)
    running = first.teach(pairs_of(first), 3)
    wait_for(lambda: running.status().state != "queued")
    waiting = second.teach(pairs_of(second), 3)
    wait_for(lambda: waiting.status().state == "queued" and waiting.status().ahead == 1, 30)
    running.join(120)
    assert running.status().state == "done", running.status().error
    wait_for(lambda: waiting.done)
    assert waiting.status().state == "done" and waiting.report.steps >= 1
    assert second.overlay.adapter_location and first.overlay.adapter_location != second.overlay.adapter_location


def test_a_queued_job_cancelled_leaves_the_line_at_once(visitors):
    first, second = visitors(FERRY), visitors(CLINIC)
    running = first.teach(pairs_of(first), 3)
    waiting = second.teach(pairs_of(second), 3)
    wait_for(lambda: waiting.status().state == "queued" and waiting.status().ahead >= 1)
    waiting.cancel()
    waiting.join(10)
    assert waiting.status().state == "cancelled" and "before it began" in waiting.error
    running.join(120)
    assert second.overlay.adapter_location is None


def test_a_teaching_job_pauses_while_questions_are_answered(visitors):
    visitor = visitors(FERRY)
    job = visitor.teach(pairs_of(visitor), 4)
    wait_for(lambda: job.status().state == "training")
    question = ADMISSION.join(1)  # a question's place, as the pipeline takes one: teaching must give way
    try:
        wait_for(lambda: job.status().state == "paused", 30)
        steps = len(job.status().losses)
        time.sleep(2)
        assert len(job.status().losses) == steps, "a step ran while a question was being answered"
    finally:
        ADMISSION.leave(question)
    job.join(120)
    assert job.status().state == "done" and job.report.paused_seconds >= 1.5
    assert job.report.train_seconds <= 4 + 3  # the pause is not in the budget


def test_the_line_is_quiet_only_some_time_after_its_last_question():
    line = Admission()
    assert line.quiet(QUIET_S)  # no question yet
    turn = line.join(1)
    assert not line.quiet(0.0) and not line.wait_quiet(0.0, 0.2)
    line.leave(turn)
    assert line.quiet(0.0) and not line.quiet(60.0), "the question just left: not quiet for a minute yet"
    left = time.monotonic()
    assert line.wait_quiet(0.3, 30)
    assert time.monotonic() - left >= 0.3
    again = line.join(1)
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(line.wait_quiet(0.2, 30)))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive(), "a job waiting for quiet went on while a question was answered"
    line.leave(again)
    left = time.monotonic()
    waiter.join(30)
    assert time.monotonic() - left >= 0.2
    assert results == [True]


def test_a_session_ending_while_it_teaches_cancels_and_writes_nothing(visitors):
    visitor = visitors(FERRY)
    job = visitor.teach(pairs_of(visitor), 60)
    wait_for(lambda: job.status().state == "training")
    folder = visitor.overlay.folder()
    visitor.close()  # what Streamlit's release of the session calls
    job.join(30)
    assert job.status().state == "cancelled"
    assert not folder.exists() and visitor.overlay.adapter_location is None and len(visitor.overlay) == 0
    with pytest.raises(Exception, match="this session has ended"):
        visitor.overlay.add_text("late.md", FERRY.read_text(encoding="utf-8"))


def test_one_job_per_session(visitors):
    visitor = visitors(FERRY)
    visitor.teach(pairs_of(visitor), 3)
    with pytest.raises(Exception, match="already teaching"):
        visitor.teach(pairs_of(visitor), 3)
    visitor.job.join(120)
