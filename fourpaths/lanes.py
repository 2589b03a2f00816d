"""Decode lanes: on a machine with more than one core, units of work decode at the same time, one lane in this
process and each other lane in a worker process, so that two models' decode loops really run at once.

Why processes, not threads: the models here are small enough that a decode step is mostly Python overhead,
and threads queue on the GIL (see ask._interleaved). Why fork: a worker starts with everything this process
has loaded (models, tokenizers, examples) and shares those memory pages copy-on-write, so it costs only the
pages it writes, and nothing has to be loaded or pickled on the way in. Only the events come back, pickled
over a pipe.

Workers are kept from one question to the next. A fork for every question cost 13-24 ms here and another
~40 ms in the worker (its first copy-on-write faults) before its first token: a quarter of a whole answer.
So a kept worker is told what to do by a recipe, a picklable call that prepares its paths from the question
and the settings and decodes them on the models it inherited. It is kept only while this process holds the
models it inherited (the caller's `key`, see models.cache_generation): once another model is loaded here, it
is retired and the next question forks a fresh one.

Scheduling: every lane, this process's included, takes the next waiting unit whenever it is free, so a long
answer does not hold a short one up behind it. A unit without a recipe is taken by this process's lane alone:
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
import stat
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from fourpaths.events import DoneEvent, ErrorEvent, Event

WORKER_SILENCE_S = 30.0  # far beyond a decode step of any model this runs on a CPU
# A kept worker is replaced once it holds this much memory of its own. Its private pages grow while it lives,
# and not only by its own writes: a page this process rewrites after the fork leaves the old copy to the worker
# alone. Python's garbage collector writes to every object it scans, so one full collection here copies most
# of the heap: measured, a worker went from 27-28 MB to 150-151 MB at one question (the 15th and the 26th
# in two runs) and grew by ~0.1 MB a question otherwise. gc.freeze() before the fork prevented that, but
# would keep every object alive at the fork from ever being collected in a long-running app; this limit
# bounds the cost instead. A fresh fork costs ~60 ms, once.
WORKER_PRIVATE_LIMIT_MB = 96.0
REPORT_WAIT_S = 5.0  # a worker's memory report follows its last event by ~10 ms
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
    """The most private memory any lane worker of this process held after a question (0 before any ran).

    Private, because a forked worker shares every page it has not written with this process: the app's
    resident memory is this process's plus each worker's private pages."""
    _POOL.read_reports()
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


def decode_in_lanes(units: Sequence, decode: Callable[[object], Iterator[Event]],
                    recipe_of: Callable[[object], Callable[[], Iterator[Event]] | None], lanes: int,
                    path_ids_of: Callable[[object], list[str]], key: object = None) -> Iterator[Event]:
    """Every event of every unit, decoding up to `lanes` units at once (see the module docstring).

    `decode(unit)` yields a unit's events here; `recipe_of(unit)` is what a worker runs instead, a picklable
    call that needs nothing but what the worker inherited, or None to keep the unit in this process;
    `path_ids_of(unit)` names its paths, so that a worker that dies or hangs can be reported as an error in
    each column it left unfinished. Workers are reused only by asks with an equal `key`.
    """
    run_torch_on_one_thread()  # the caller should have done so before any work of this ask (see there)
    events: queue.Queue = queue.Queue()
    dispenser = _Dispenser([recipe_of(unit) is None for unit in units])
    for lane, worker in enumerate(_POOL.check_out(key, lanes - 1), start=1):
        threading.Thread(target=_serve_worker, args=(worker, lane, units, recipe_of, dispenser, events, path_ids_of),
                         daemon=True, name="fourpaths-lane-reader").start()
    threading.Thread(target=_local_lane, args=(units, decode, dispenser, events), daemon=True,
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


def _local_lane(units, decode, dispenser: _Dispenser, events: queue.Queue) -> None:
    apply_torch_threads_here()
    try:
        while (index := dispenser.take(local=True)) is not None:
            for event in decode(units[index]):
                events.put(_labelled(event, 0))
    finally:
        events.put(_LANE_FINISHED)


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: object  # this process's end of the pipe
    key: object
    report_pending: bool = False  # it is measuring its memory after a question; the report is still to read
    private_mb: float = 0.0  # from its last report


class _Pool:
    """The idle workers of this process, each ready for its next question."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def check_out(self, key: object, count: int) -> list[_Worker]:
        """`count` workers holding what `key` names: kept ones first, then fresh forks. Workers holding
        other models, dead ones and ones over WORKER_PRIVATE_LIMIT_MB retire."""
        with self._lock:
            for worker in self._idle:
                _read_pending_report(worker)
            usable = [worker for worker in self._idle if worker.key == key and worker.process.is_alive()
                      and worker.private_mb <= WORKER_PRIVATE_LIMIT_MB]
            taken = usable[:count]
            leaving = [worker for worker in self._idle if worker not in usable]
            self._idle = usable[count:]
        for worker in leaving:
            _retire(worker)
        return taken + [_fork_worker(key) for _ in range(count - len(taken))]

    def check_in(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def read_reports(self) -> None:
        with self._lock:
            for worker in self._idle:
                _read_pending_report(worker)


_POOL = _Pool()


def _fork_worker(key: object) -> _Worker:
    context = multiprocessing.get_context("fork")
    here, there = context.Pipe()
    process = context.Process(target=_worker_main, args=(there, here), daemon=True, name="fourpaths-lane")
    process.start()
    there.close()
    return _Worker(process, here, key)


def _retire(worker: _Worker) -> None:
    """Tell a worker to exit (it also exits when its pipe closes), and reap it without waiting here."""
    try:
        worker.connection.send(None)
    except OSError:
        pass
    worker.connection.close()
    threading.Thread(target=worker.process.join, kwargs={"timeout": WORKER_SILENCE_S}, daemon=True).start()


def _worker_main(connection, parents_end) -> None:
    """In the worker: for each question, take units from the parent until none are left, sending back every
    event; then report its memory and wait for the next question, until told to exit or the parent is gone."""
    parents_end.close()  # so that this end reads EOF once the parent exits
    for stop in (signal.SIGTERM, signal.SIGINT):  # the app's own handlers (Streamlit's graceful shutdown) came
        signal.signal(stop, signal.SIG_DFL)       # with the fork; here they kept the worker, and so the app, alive
    _let_go_of_inherited_sockets(keep=connection.fileno())
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)  # see the module docstring
    run_torch_on_one_thread()
    try:
        while (question := connection.recv()) is not None:
            lane, recipe = question  # the first unit comes with the question, saving a round trip
            while recipe is not None:
                for event in recipe():
                    connection.send(("event", _labelled(event, lane)))
                recipe = _take(connection)
            connection.send(("finished",))  # before measuring memory, which takes ~10 ms: the answers are in
            connection.send(("memory", private_memory_mb()))
    except (EOFError, OSError):  # the parent is gone
        pass


def _let_go_of_inherited_sockets(keep: int) -> None:
    """Point every socket the worker inherited, other than its own pipe, at /dev/null.

    Why: a fork copies every descriptor the app's process holds, its web server's connections too. A kept
    worker lives on, so a connection the server closes stays open in the kernel while a copy lives here: the
    browser then sends its next request down a connection nobody reads. Seen as a Compare page whose metrics
    and chart never appeared (their code is fetched after the answers), in about half the browser runs.
    Pointed at /dev/null rather than closed, a number is never reused under an inherited socket object that
    might close it later."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for name in os.listdir("/proc/self/fd"):
            descriptor = int(name)
            if descriptor in (keep, null):
                continue
            try:
                if stat.S_ISSOCK(os.fstat(descriptor).st_mode):
                    os.dup2(null, descriptor)
            except OSError:  # the listing's own descriptor, closed by now
                pass
    finally:
        os.close(null)


def _take(connection):
    connection.send(("take",))
    return connection.recv()


def _serve_worker(worker: _Worker, lane: int, units, recipe_of, dispenser: _Dispenser, events: queue.Queue,
                  path_ids_of) -> None:
    """In this process: start a worker on this question, answer its requests for units and pass its events
    on, until it has finished (then it goes back to the pool) or failed (then it is stopped)."""
    unfinished: list[str] = []  # paths of the units it took that have not yet ended
    finished = False

    def next_recipe():
        index = dispenser.take(local=False)
        if index is None:
            return None
        unfinished.extend(path_ids_of(units[index]))
        return recipe_of(units[index])

    try:
        worker.connection.send((lane, next_recipe()))
        while not finished:
            if not worker.connection.poll(WORKER_SILENCE_S):
                _fail(events, unfinished, f"the lane worker was silent for {WORKER_SILENCE_S:.0f} s and was stopped")
                _stop_hung(worker.process)
                return
            try:
                message = worker.connection.recv()
            except (EOFError, OSError):
                worker.process.join(timeout=5)  # its pipe closes as it exits, a moment before it can be reaped
                _fail(events, unfinished, f"the lane worker ended unexpectedly (exit code {worker.process.exitcode})")
                return
            if message[0] == "take":
                worker.connection.send(next_recipe())
            elif message[0] == "event":
                event = message[1]
                if isinstance(event, (DoneEvent, ErrorEvent)) and event.path in unfinished:
                    unfinished.remove(event.path)
                events.put(event)
            elif message[0] == "finished":
                finished = True
            else:
                _read_report(worker, message)  # from its question before this one
    except Exception as error:  # noqa: BLE001 - a recipe that cannot be sent, say: its columns end, the app goes on
        _fail(events, unfinished, f"the lane worker failed: {type(error).__name__}: {error}")
    finally:
        if finished:  # back in the pool before this lane counts as finished, so the next ask finds it there
            worker.report_pending = True
            _POOL.check_in(worker)
        else:
            worker.process.kill()
            _retire(worker)
        events.put(_LANE_FINISHED)


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


def _read_pending_report(worker: _Worker) -> None:
    """Read the memory report an idle worker sends after each question, if it has not been read yet."""
    try:
        if worker.report_pending and worker.connection.poll(REPORT_WAIT_S):
            _read_report(worker, worker.connection.recv())
    except (EOFError, OSError):  # it died: check_out sees that
        worker.report_pending = False


def _read_report(worker: _Worker, message) -> None:
    global _worker_private_peak_mb
    worker.report_pending = False
    megabytes = message[1]
    if megabytes is not None:
        worker.private_mb = megabytes
        with _peak_lock:
            _worker_private_peak_mb = max(_worker_private_peak_mb, megabytes)
