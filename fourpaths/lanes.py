"""Decode lanes: on a machine with more than one core, groups of jobs decode at the same time, one lane in this
process and each other lane in a forked worker process, so that two models' decode loops really run at once.

Why processes, not threads: the models here are small enough that a decode step is mostly Python overhead,
and threads queue on the GIL (see ask._interleaved). Why fork: the worker starts with everything this
process has loaded (models, search index, the prepared jobs) and shares those memory pages copy-on-write, so
a lane costs only the pages it writes and starts in milliseconds, with nothing to pickle on the way in.
Only the events come back, pickled over a pipe.

Scheduling: every lane, this process's included, takes the next waiting group whenever it is free, so a long
answer does not hold a short one up behind it. A group marked local-only is taken by this process's lane alone:
work beyond decoding (the RAG path's search, with FAISS's and the tokenizers' own thread pools) stays out of
forked workers, which inherit such pools' state but not their threads.

A worker that says nothing for WORKER_SILENCE_S is taken as hung: its Python stack is written to stderr (for
the log), it is stopped, and each path it had taken ends with an error (see run_torch_on_one_thread for the
one cause seen, and how it is prevented).
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from typing import Callable, Iterator, Sequence

from fourpaths.events import DoneEvent, ErrorEvent, Event

WORKER_SILENCE_S = 30.0  # far beyond a decode step of any model this runs on a CPU
_LANE_FINISHED = object()

_peak_lock = threading.Lock()
_worker_private_peak_mb = 0.0


def usable_lanes(requested: int, groups: int) -> int:
    """How many lanes to decode `groups` in: `requested` (0: one per core), never more than there are groups,
    and 1 where processes cannot be forked safely (only Linux is trusted to fork a process holding torch)."""
    if groups < 2 or not sys.platform.startswith("linux"):
        return 1
    wanted = requested if requested > 0 else (os.cpu_count() or 1)
    return max(1, min(wanted, groups))


def worker_private_peak_mb() -> float:
    """The most private memory any lane worker of this process held when it finished (0 before any ran).

    Private, because a forked worker shares every page it has not written with this process: the app's
    resident memory is this process's plus each running worker's private pages."""
    return _worker_private_peak_mb


def private_memory_mb() -> float | None:
    """This process's pages that no other process shares (Private_Clean + Private_Dirty), or None off Linux."""
    try:
        with open("/proc/self/smaps_rollup", encoding="ascii") as rollup:
            lines = rollup.read().splitlines()
    except OSError:
        return None
    kilobytes = sum(int(line.split()[1]) for line in lines if line.startswith(("Private_Clean:", "Private_Dirty:")))
    return kilobytes / 1024


class _Dispenser:
    """Hands out group indices, first waiting first, each once, to whichever lane asks; a local-only group only
    to this process's lane."""

    def __init__(self, local_only: Sequence[bool]) -> None:
        self._waiting, self._local_only, self._lock = list(range(len(local_only))), local_only, threading.Lock()

    def take(self, local: bool) -> int | None:
        with self._lock:
            for index in self._waiting:
                if local or not self._local_only[index]:
                    self._waiting.remove(index)
                    return index
            return None


def run_torch_on_one_thread() -> None:
    """From the first ask in lanes on, this process runs torch on one thread, in every thread that computes,
    and so does every worker.

    Why: a worker hung inside its first matrix product (`F.linear` in the prefill) in about one ask in a
    hundred under load, never to answer. torch.set_num_threads() sets OpenMP's and MKL's thread counts only
    for the thread that calls it; in any other thread a matrix product still starts an OpenMP team of one
    thread per core, creating and later tearing down OpenMP threads. A fork that catches the OpenMP library
    midway through that, in some other thread, copies its locks held, and the worker's own first team waits
    on them forever. Measured: a fresh thread's first matrix product created an OpenMP thread unless that
    thread had called set_num_threads(1) itself. With one thread everywhere (apply_torch_threads_here), no
    team is started and MKL takes its sequential path. Each lane is one thread anyway, and these models
    decode about as fast on one thread as on two (one after another, 350-540 ms a question on one thread
    against 420-550 ms on two, nine questions each).
    """
    import torch

    torch.set_num_threads(1)


def apply_torch_threads_here() -> None:
    """Give the calling thread the process's torch thread count for OpenMP and MKL as well (see above)."""
    import torch

    torch.set_num_threads(torch.get_num_threads())


def decode_in_lanes(groups: Sequence, decode: Callable[[object], Iterator[Event]], lanes: int,
                    path_ids_of: Callable[[object], list[str]],
                    local_only: Callable[[object], bool] = lambda group: False) -> Iterator[Event]:
    """Every event of every group, decoding up to `lanes` groups at once (see the module docstring).

    `decode(group)` yields a group's events; `path_ids_of(group)` names its paths, so that a worker that dies
    or hangs can be reported as an error in each column it left unfinished; `local_only(group)` keeps a group
    in this process.
    """
    run_torch_on_one_thread()  # the caller should have done so before any work of this ask (see there)
    events: queue.Queue = queue.Queue()
    dispenser = _Dispenser([local_only(group) for group in groups])
    context = multiprocessing.get_context("fork")
    for lane in range(1, lanes):
        here, there = context.Pipe()
        worker = context.Process(target=_worker_main, args=(there, groups, decode, lane), daemon=True,
                                 name="fourpaths-lane")
        worker.start()
        there.close()
        threading.Thread(target=_serve_worker, args=(here, worker, groups, dispenser, events, path_ids_of),
                         daemon=True, name="fourpaths-lane-reader").start()
    threading.Thread(target=_local_lane, args=(groups, decode, dispenser, events), daemon=True,
                     name="fourpaths-lane-local").start()
    running = lanes
    while running:
        item = events.get()
        if item is _LANE_FINISHED:
            running -= 1
        else:
            yield item


def _labelled(event: Event, lane: int) -> Event:
    """A finished answer says which lane decoded it (0: the app's own process), for its anatomy."""
    if isinstance(event, DoneEvent):
        event.trace.facts["decode_lane"] = lane
    return event


def _local_lane(groups, decode, dispenser: _Dispenser, events: queue.Queue) -> None:
    apply_torch_threads_here()
    try:
        while (index := dispenser.take(local=True)) is not None:
            for event in decode(groups[index]):
                events.put(_labelled(event, 0))
    finally:
        events.put(_LANE_FINISHED)


def _worker_main(connection, groups, decode, lane: int) -> None:
    """In the forked worker: take groups from the parent until none are left, sending back every event."""
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)  # see the module docstring
    run_torch_on_one_thread()
    while True:
        connection.send(("take",))
        index = connection.recv()
        if index is None:
            break
        for event in decode(groups[index]):
            connection.send(("event", _labelled(event, lane)))
    connection.send(("finished",))  # before measuring memory, which takes ~10 ms: the answers are all in
    connection.send(("memory", private_memory_mb()))
    connection.close()


def _serve_worker(connection, worker, groups, dispenser: _Dispenser, events: queue.Queue, path_ids_of) -> None:
    """In this process: answer a worker's requests for groups and pass its events on, until it ends."""
    unfinished: list[str] = []  # paths of the groups it took that have not yet ended
    lane_finished = False
    try:
        while True:
            if not connection.poll(WORKER_SILENCE_S):
                _fail(events, unfinished, f"the lane worker was silent for {WORKER_SILENCE_S:.0f} s and was stopped")
                _stop_hung(worker)
                return
            try:
                message = connection.recv()
            except (EOFError, OSError):
                worker.join(timeout=5)  # its pipe closes as it exits, a moment before it can be reaped
                _fail(events, unfinished, f"the lane worker ended unexpectedly (exit code {worker.exitcode})")
                return
            kind = message[0]
            if kind == "take":
                index = dispenser.take(local=False)
                if index is not None:
                    unfinished.extend(path_ids_of(groups[index]))
                connection.send(index)
            elif kind == "event":
                event = message[1]
                if isinstance(event, (DoneEvent, ErrorEvent)) and event.path in unfinished:
                    unfinished.remove(event.path)
                events.put(event)
            elif kind == "finished":
                events.put(_LANE_FINISHED)
                lane_finished = True
            elif kind == "memory":
                _record_private(message[1])
                return
    finally:
        if not lane_finished:
            events.put(_LANE_FINISHED)
        connection.close()
        worker.join(timeout=5)


def _stop_hung(worker) -> None:
    """Have a hung worker write its stack to stderr, then stop it."""
    try:
        os.kill(worker.pid, signal.SIGUSR1)
        time.sleep(0.5)
    except OSError:
        pass
    worker.kill()


def _fail(events: queue.Queue, path_ids: list[str], message: str) -> None:
    for path_id in path_ids:
        events.put(ErrorEvent(path_id, message))


def _record_private(megabytes: float | None) -> None:
    global _worker_private_peak_mb
    if megabytes is not None:
        with _peak_lock:
            _worker_private_peak_mb = max(_worker_private_peak_mb, megabytes)
