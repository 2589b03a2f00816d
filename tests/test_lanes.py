"""Decode lanes: answers decoded in forked worker processes are the same answers, and a worker that dies or
fails costs only its own columns."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

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


def test_usable_lanes_never_exceed_the_groups_and_one_group_needs_no_fork():
    assert lanes.usable_lanes(4, 1) == 1
    assert lanes.usable_lanes(1, 5) == 1
    if sys.platform.startswith("linux"):
        assert lanes.usable_lanes(8, 3) == 3
        assert lanes.usable_lanes(0, 3) == min(3, os.cpu_count() or 1)


@linux_only
def test_other_lanes_run_in_other_processes_and_every_group_runs_once(tmp_path):
    def waits_for_another_process(group):
        """Hold each group until two processes have begun one, so that no lane can take every group alone
        before the others have started: the test then cannot race the forks."""
        (tmp_path / f"lane-{os.getpid()}").touch()
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("lane-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        yield from _pid_events(group)

    groups = [["a"], ["b"], ["c", "d"], ["e"]]
    events = list(lanes.decode_in_lanes(groups, waits_for_another_process, 3, lambda group: group))
    tokens = {event.path: event.text for event in events if isinstance(event, TokenEvent)}
    assert sorted(tokens) == ["a", "b", "c", "d", "e"]
    assert sorted(event.path for event in events if isinstance(event, ErrorEvent)) == ["a", "b", "c", "d", "e"]
    assert len(set(tokens.values())) > 1, "every group ran in one process: no lane was forked"
    deadline = time.monotonic() + 30  # a worker reports its memory after its last event, so it may come later
    while lanes.worker_private_peak_mb() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lanes.worker_private_peak_mb() > 0


@linux_only
def test_local_only_groups_stay_in_this_process():
    groups = [["a"], ["b"], ["c"], ["d"]]
    events = list(lanes.decode_in_lanes(groups, _pid_events, 2, lambda group: group,
                                        local_only=lambda group: group[0] in ("a", "c")))
    tokens = {event.path: event.text for event in events if isinstance(event, TokenEvent)}
    assert sorted(tokens) == ["a", "b", "c", "d"]
    assert tokens["a"] == tokens["c"] == str(os.getpid())


@linux_only
def test_a_worker_that_dies_fails_only_the_paths_it_had_taken(tmp_path):
    parent = os.getpid()
    marker = tmp_path / "the-worker-took-a-group"

    def dies_in_a_worker(group):
        if os.getpid() != parent:
            marker.touch()
            os._exit(3)  # as a crash would: no event, no goodbye
        deadline = time.monotonic() + 60  # here, wait for the worker to take one, so the test cannot race it
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        yield from _pid_events(group)

    groups = [["a"], ["b"], ["c"]]
    events = list(lanes.decode_in_lanes(groups, dies_in_a_worker, 2, lambda group: group))
    errors = {event.path: event.message for event in events if isinstance(event, ErrorEvent)}
    assert sorted(errors) == ["a", "b", "c"], "every path ends, one way or the other"
    died = [path for path, message in errors.items() if "ended unexpectedly" in message]
    assert len(died) == 1 and "exit code 3" in errors[died[0]]
    assert all(message == "done" for path, message in errors.items() if path not in died)


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
