"""A model that decodes in a process of its own, beside the main process's decode loop.

Why a process: small models spend most of each step in Python, so two decode loops in one process queue on
the interpreter lock, and taking turns on one thread costs the sum of both (measured: the four paths at once
took 0.80 of one after another). A second process runs the tiny model's loop on the other core while the
main process runs the shared base's batch.

The worker loads the same folder with the same loader and runs the same `stream_tokens`; it sends each
TokenStep back as it is chosen. `time.perf_counter` is the system's monotonic clock, so the times it reports
are on the main process's clock too.
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from typing import Iterator, Sequence

from fourpaths.errors import FourpathsError
from fourpaths.generation import Row, Sampling, TokenStep

_START_SECONDS = 120  # importing torch and transformers in a fresh process takes about 10 s on 2 cores
_FINISHED = "finished"


def _serve(location: str, connection) -> None:
    """The worker's loop: load once, then answer each request with its token steps and a closing message."""
    import torch

    from fourpaths import models
    from fourpaths.generation import stream_tokens

    torch.set_num_threads(1)  # the main process keeps the other core
    try:
        loaded = models.load_plain(location)
    except Exception as error:  # noqa: BLE001 - reported to the main process as one line
        connection.send(("error", str(error)))
        return
    connection.send(("ready", None))
    while True:
        request = connection.recv()
        if request is None:
            return
        rows, sampling, stop_ids = request
        try:
            for step in stream_tokens(loaded.model, rows, sampling, stop_ids):
                connection.send(step)
            connection.send((_FINISHED, None))
        except Exception as error:  # noqa: BLE001
            connection.send(("error", str(error)))


class ModelWorker:
    """One worker process for one model folder; one generation at a time (hold `lock` while streaming)."""

    def __init__(self, location: str) -> None:
        context = multiprocessing.get_context("spawn")  # fork would copy the main process's threads' locks
        self.location = location
        self.lock = threading.Lock()
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(location, child_end), daemon=True,
                                        name="fourpaths-model-worker")
        self._process.start()
        child_end.close()
        if not self._connection.poll(_START_SECONDS):
            self.close()
            raise FourpathsError(f"the worker for {location} did not start within {_START_SECONDS} s")
        kind, detail = self._connection.recv()
        if kind == "error":
            self.close()
            raise FourpathsError(detail)

    def stream(self, rows: Sequence[Row], sampling: Sampling, stop_ids: set[int]) -> Iterator[TokenStep | None]:
        """The worker's token steps; None whenever the next one has not arrived yet, so a caller that has
        other work (the base's batch) does it instead of waiting."""
        self._connection.send((list(rows), sampling, set(stop_ids)))
        while True:
            if not self._connection.poll():
                yield None
                continue
            message = self._connection.recv()
            if isinstance(message, TokenStep):
                yield message
            elif message[0] == _FINISHED:
                return
            else:
                raise FourpathsError(f"generation failed in the worker: {message[1]}")

    def wait(self, seconds: float) -> None:
        """Block until the worker has something to say, at most `seconds`."""
        self._connection.poll(seconds)

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._connection.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
        self._connection.close()


_workers: dict[str, ModelWorker] = {}
_workers_lock = threading.Lock()


def worker_for(location: str) -> ModelWorker:
    """The process's one worker for `location`, started on first use (and again if it died)."""
    with _workers_lock:
        worker = _workers.get(location)
        if worker is None or not worker.alive:
            worker = _workers[location] = ModelWorker(location)
        return worker


@atexit.register
def close_all() -> None:
    with _workers_lock:
        for worker in _workers.values():
            worker.close()
        _workers.clear()
