"""Teaching as a managed job: queued, given way to questions, cancelled with its session, its memory given back.

A `Visitor` is one browser session's Fresh knowledge: its overlay (documents, taught adapter) and at most one
`TeachJob`. The page keeps the Visitor in a session-scoped resource whose release calls `Visitor.close` the
moment the session ends (Streamlit clears session-scoped caches when the browser disconnects), so a closed tab
stops its teaching, deletes its adapter folder and frees its memory then, not when the next visitor arrives.

Jobs of a process form one line (TEACHING, first come, first served, `concurrent_teaching` at once: one by
default): each teaching job holds a core and a model's activations, so two at once only double the memory and
slow each other. A waiting job knows its place. A job gives way to questions: before each micro-batch it waits while
any question of any session is being answered or waiting, and until none has been for QUIET_S, so a visitor asking
one question after another does not meet a micro-batch begun in the moment between them; its budget counts
training steps only, and the pauses are reported beside it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from fourpaths.answering.admission import ADMISSION, Admission
from fourpaths.config import Settings
from fourpaths.errors import FourpathsError, one_line
from fourpaths.fresh.memory import release_memory
from fourpaths.fresh.overlay import Overlay
from fourpaths.fresh.teaching import DEFAULT_BUDGET_S, Hooks, TeachingCancelled, TeachReport

TEACHING = Admission()  # the process's line of teaching jobs
GIVE_WAY_POLL_S = 1.0  # how often a paused job looks at its cancel flag
QUIET_S = 2.0  # longer than a page takes to draw an answer before its visitor can ask the next


@dataclass
class JobStatus:
    """What the page shows of a job, read at one moment."""

    state: str  # queued, preparing, training, measuring, paused, done, failed, cancelled
    ahead: int  # teaching jobs before it in the line (queued only)
    budget_s: float
    train_seconds: float  # steps so far, what the budget counts
    phase_seconds: float  # in the current phase (or since queued)
    losses: list[tuple[int, float]] = field(default_factory=list)
    report: TeachReport | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


class TeachJob:
    """Overlay.teach on a thread of its own, behind the process's other teaching jobs; its status readable at any
    time (the page polls it)."""

    def __init__(self, overlay: Overlay, pairs, budget_s: float = DEFAULT_BUDGET_S, width: int = 1, seed: int = 0,
                 give_way: bool = True) -> None:
        self.overlay = overlay
        self.budget_s = budget_s
        self.created = time.perf_counter()
        self.finished_at: float | None = None
        self._lock = threading.Lock()
        self._state, self._ahead, self._phase_started = "queued", 0, self.created
        self._losses: list[tuple[int, float]] = []
        self._train_seconds = 0.0
        self.report: TeachReport | None = None
        self.error: str | None = None
        self._cancel = threading.Event()
        self._give_way = give_way
        self._turn = TEACHING.join(width)
        self._thread = threading.Thread(target=self._run, args=(pairs, seed), daemon=True, name="fourpaths-teach")
        self._thread.start()

    # -- the job's thread ------------------------------------------------------------------------------------

    def _run(self, pairs, seed: int) -> None:
        try:
            for ahead in TEACHING.waits(self._turn):
                self._set(ahead=ahead)
            if self._cancel.is_set():
                raise TeachingCancelled("teaching cancelled before it began; the previous adapter stays in use")
            hooks = Hooks(phase=lambda phase: self._set(state=phase), step=self._stepped,
                          cancelled=self._cancel.is_set, pause=self._pause if self._give_way else None)
            self.report = self.overlay.teach(pairs, self.budget_s, hooks=hooks, seed=seed)
            self._set(state="done")
        except TeachingCancelled as error:
            self.error = str(error)
            self._set(state="cancelled")
        except FourpathsError as error:
            self.error = str(error)
            self._set(state="failed")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # noqa: BLE001 - the page shows it; the thread must not die silently
            self.error = f"teaching failed: {type(error).__name__}: {one_line(error)}"
            self._set(state="failed")
        finally:
            TEACHING.leave(self._turn)
            self.finished_at = time.perf_counter()
            release_memory()

    def _set(self, state: str | None = None, ahead: int | None = None) -> None:
        with self._lock:
            if state is not None and state != self._state:
                self._state, self._phase_started = state, time.perf_counter()
            if ahead is not None:
                self._ahead = ahead

    def _stepped(self, step: int, loss: float, train_seconds: float) -> None:
        with self._lock:
            self._losses.append((step, loss))
            self._train_seconds = train_seconds

    def _pause(self) -> float:
        """Wait while other sessions' questions are answered or waiting, and QUIET_S after; the seconds waited."""
        started = time.perf_counter()
        if ADMISSION.quiet(QUIET_S):
            return 0.0
        resume = self._state
        self._set(state="paused")
        while not self._cancel.is_set() and not ADMISSION.wait_quiet(QUIET_S, GIVE_WAY_POLL_S):
            pass
        self._set(state=resume)
        return time.perf_counter() - started

    # -- what the page asks -----------------------------------------------------------------------------------

    def status(self) -> JobStatus:
        with self._lock:
            losses, train = list(self._losses), self._train_seconds
            state, ahead, phase_started = self._state, self._ahead, self._phase_started
        return JobStatus(state, ahead, self.budget_s, train, time.perf_counter() - phase_started, losses,
                         self.report, self.error)

    def cancel(self) -> None:
        """Stop at the next step or measuring batch (or leave the line at once): nothing is installed."""
        self._cancel.set()
        TEACHING.leave(self._turn)  # a queued job wakes and stops; a running one keeps its place until it does

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class Visitor:
    """One session's Fresh knowledge: its overlay and its teaching job; `close` when the session ends."""

    def __init__(self, settings: Settings) -> None:
        self.overlay = Overlay(settings)
        self.job: TeachJob | None = None
        self._lock = threading.Lock()

    def teach(self, pairs, budget_s: float) -> TeachJob:
        """Start teaching the checked pairs (a job queues behind the process's others); one job per session."""
        with self._lock:
            if self.job is not None and not self.job.done:
                raise FourpathsError("this session is already teaching; wait for it or cancel it")
            checked = self.overlay.check_pairs(pairs)
            self.job = TeachJob(self.overlay, checked, budget_s, width=self.overlay.settings.concurrent_teaching)
            return self.job

    def reset(self) -> None:
        """Back to the shipped state: the job cancelled, the documents and taught adapter dropped."""
        with self._lock:
            job, self.job = self.job, None
        if job is not None:
            job.cancel()
        self.overlay.reset()
        release_memory()

    def close(self) -> None:
        """The session ended: cancel the job (its thread stops at its next step and frees what it held), drop the
        documents and adapter, delete the session's folder. Called from Streamlit's event loop: never waits."""
        with self._lock:
            job, self.job = self.job, None
        if job is not None:
            job.cancel()
        self.overlay.close()
        threading.Thread(target=release_memory, daemon=True, name="fourpaths-release").start()  # off the loop
