"""Decode lanes: answers decoded in forked worker processes are the same answers, and a worker that dies or
fails costs only its own columns."""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from fourpaths import lanes
from fourpaths.ask import ask, ask_stream
from fourpaths.events import DoneEvent, ErrorEvent, TokenEvent

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lanes fork only on Linux")


def _pid_events(group):
    """A decode that says which process it ran in: one token per path, then its end."""
    for path_id in group:
        yield TokenEvent(path_id, str(os.getpid()))
        yield ErrorEvent(path_id, "done")


def _in_lanes(groups, lane_count, key="test", kept_here=(), decode=_pid_events):
    """decode_in_lanes with `decode(group)` in every lane; groups whose first path is in `kept_here` have no
    recipe, so they stay in this process."""
    return list(lanes.decode_in_lanes(
        groups, decode, lambda group: None if group[0] in kept_here else partial(decode, group), lane_count,
        lambda group: group, key=key))


def _tokens(events):
    return {event.path: event.text for event in events if isinstance(event, TokenEvent)}


def _waits_for_another_process(folder: str, group):
    """Hold each group until two processes have begun one, so that no lane can take every group alone
    before the others have started: the test then cannot race the workers."""
    Path(folder, f"lane-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while len(list(Path(folder).glob("lane-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    yield from _pid_events(group)


def _dies_in_a_worker(parent: int, marker: str, group):
    if os.getpid() != parent:
        Path(marker).touch()
        os._exit(3)  # as a crash would: no event, no goodbye
    deadline = time.monotonic() + 60  # here, wait for the worker to take one, so the test cannot race it
    while not Path(marker).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    yield from _pid_events(group)


def test_usable_lanes_never_exceed_the_groups_and_one_group_needs_no_fork():
    assert lanes.usable_lanes(4, 1) == 1
    assert lanes.usable_lanes(1, 5) == 1
    if sys.platform.startswith("linux"):
        assert lanes.usable_lanes(8, 3) == 3
        assert lanes.usable_lanes(0, 3) == min(3, os.cpu_count() or 1)


@linux_only
def test_other_lanes_run_in_other_processes_and_every_group_runs_once(tmp_path):
    groups = [["a"], ["b"], ["c", "d"], ["e"]]
    events = _in_lanes(groups, 3, key=("waits", str(tmp_path)),
                       decode=partial(_waits_for_another_process, str(tmp_path)))
    tokens = _tokens(events)
    assert sorted(tokens) == ["a", "b", "c", "d", "e"]
    assert sorted(event.path for event in events if isinstance(event, ErrorEvent)) == ["a", "b", "c", "d", "e"]
    assert len(set(tokens.values())) > 1, "every group ran in one process: no lane was forked"
    assert lanes.worker_private_peak_mb() > 0  # read from the workers' reports after the question


@linux_only
def test_groups_without_a_recipe_stay_in_this_process():
    tokens = _tokens(_in_lanes([["a"], ["b"], ["c"], ["d"]], 2, kept_here=("a", "c")))
    assert sorted(tokens) == ["a", "b", "c", "d"]
    assert tokens["a"] == tokens["c"] == str(os.getpid())


def _worker_pids(key) -> set[str]:
    """The processes that ran a question's groups, other than this one (the groups wait for a second
    process, so one of them is a worker)."""
    folder = tempfile.mkdtemp()
    tokens = _tokens(_in_lanes([["a"], ["b"]], 2, key=key, decode=partial(_waits_for_another_process, folder)))
    return set(tokens.values()) - {str(os.getpid())}


@linux_only
def test_a_worker_is_kept_for_the_next_question_while_it_holds_the_same_models():
    first = _worker_pids("models-1")
    assert len(first) == 1
    assert _worker_pids("models-1") == first, "the second question forked another worker"
    assert _worker_pids("models-2").isdisjoint(first), "a worker holding other models answered"
    pid = int(next(iter(first)))
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the retired worker is still running"


@linux_only
def test_a_worker_over_the_memory_limit_is_replaced(monkeypatch):
    first = _worker_pids("memory")
    monkeypatch.setattr(lanes, "WORKER_PRIVATE_LIMIT_MB", 0.0)
    assert _worker_pids("memory").isdisjoint(first)


@linux_only
def test_a_worker_holds_no_socket_of_the_app_open():
    """A kept worker must not keep the app's connections alive: once the app closes its end, the other end
    sees the close (the browser would otherwise wait on a connection nobody reads)."""
    apps_end, browsers_end = socket.socketpair()
    try:
        _worker_pids(("sockets", id(apps_end)))  # a fresh worker, forked while both ends are open here
        apps_end.close()
        browsers_end.settimeout(10)
        assert browsers_end.recv(1) == b"", "the close did not arrive"
    finally:
        browsers_end.close()


@linux_only
def test_a_worker_stops_on_sigterm_whatever_handler_the_app_had():
    """The app stopping its kept worker must not wait on it: Streamlit's SIGTERM handler, inherited through
    the fork, had kept a worker alive, and the server's shutdown waited for it."""
    previous = signal.signal(signal.SIGTERM, lambda number, frame: None)  # an app that handles SIGTERM itself
    try:
        pid = int(next(iter(_worker_pids(("sigterm", os.getpid())))))
    finally:
        signal.signal(signal.SIGTERM, previous)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = _alive(pid)
    if survived:
        os.kill(pid, signal.SIGKILL)  # or this test process, too, would wait on it forever as it exits
    assert not survived


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[-1][0] != "Z"  # a zombie has exited; only its reaping is left
    except FileNotFoundError:
        return False


@linux_only
def test_a_worker_that_dies_fails_only_the_paths_it_had_taken(tmp_path):
    marker = str(tmp_path / "the-worker-took-a-group")
    events = _in_lanes([["a"], ["b"], ["c"]], 2, key=("dies", marker),
                       decode=partial(_dies_in_a_worker, os.getpid(), marker))
    errors = {event.path: event.message for event in events if isinstance(event, ErrorEvent)}
    assert sorted(errors) == ["a", "b", "c"], "every path ends, one way or the other"
    died = [path for path, message in errors.items() if "ended unexpectedly" in message]
    assert len(died) == 1 and "exit code 3" in errors[died[0]]
    assert all(message == "done" for path, message in errors.items() if path not in died)
    assert _tokens(_in_lanes([["a"], ["b"]], 2, key=("dies", marker))), "the next question forks a new worker"


@linux_only
def test_two_lanes_give_the_answers_one_lane_gives(micro_settings):
    question = "How many days of annual leave do employees get?"
    in_lanes = ask(question, replace(micro_settings, decode_lanes=2))
    taking_turns = ask(question, replace(micro_settings, decode_lanes=1))
    assert set(in_lanes) == {"prompt", "lora", "rag", "scratch"}
    for path_id, trace in taking_turns.items():
        assert not isinstance(trace, str), trace
        assert in_lanes[path_id].text == trace.text
        assert in_lanes[path_id].prompt == trace.prompt
        assert in_lanes[path_id].facts.get("evidence_ranking") == trace.facts.get("evidence_ranking")
        assert in_lanes[path_id].ttft_ms > 0 and in_lanes[path_id].total_ms >= in_lanes[path_id].ttft_ms


@linux_only
def test_a_rag_error_in_its_lane_reaches_its_column(micro_settings, tmp_path):
    """A RAG failure (a corpus folder with no documents) ends its own column; the lanes run the others."""
    empty = tmp_path / "corpus"
    (empty / "docs").mkdir(parents=True)
    settings = replace(micro_settings, corpus_root=str(empty), index_dir=str(tmp_path / "index"), decode_lanes=2)
    events = list(ask_stream("What is the payload?", settings))
    ended = {event.path: event for event in events if isinstance(event, (DoneEvent, ErrorEvent))}
    assert set(ended) == {"prompt", "lora", "rag", "scratch"}
    assert isinstance(ended["rag"], ErrorEvent)
    assert all(isinstance(ended[path], DoneEvent) for path in ("prompt", "lora", "scratch"))


@linux_only
def test_a_thread_that_applies_the_one_thread_setting_starts_no_openmp_threads():
    """What keeps a fork from catching OpenMP midway (lanes.run_torch_on_one_thread): after it, a fresh
    thread's matrix products add no threads to the process."""
    import threading

    import torch

    lanes.run_torch_on_one_thread()
    counts = []

    def multiply() -> None:
        lanes.apply_torch_threads_here()
        before = len(os.listdir("/proc/self/task"))
        matrix = torch.randn(512, 512)
        for _ in range(5):
            matrix @ matrix
        counts.append((before, len(os.listdir("/proc/self/task"))))

    thread = threading.Thread(target=multiply)
    thread.start()
    thread.join()
    assert counts and counts[0][1] <= counts[0][0], counts  # other tests' threads may end meanwhile, none start
