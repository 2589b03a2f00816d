"""First come, first served across a process's sessions: at most a few questions answered at once, the others
waiting in the order they arrived, each able to say how many are ahead of it."""

from __future__ import annotations

import threading
import time
from typing import Iterator


class Admission:
    """Process-wide, first come first served: at most `width` questions answered at once (each question brings
    its own settings' concurrent_questions), the others wait in the order they arrived."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._line: list[object] = []  # waiting turns, in arrival order
        self._widths: dict[object, int] = {}
        self._answering: set[object] = set()
        self._last_busy = float("-inf")  # time.monotonic() when a question last left or was answered

    def join(self, width: int) -> object:
        """A new turn at the end of the line (admitted at once if there is room)."""
        turn = object()
        with self._changed:
            self._line.append(turn)
            self._widths[turn] = width
            self._admit()
        return turn

    def waits(self, turn: object) -> Iterator[int]:
        """The number of questions ahead of `turn` (answering, or waiting before it) each time it changes, until
        it is admitted; nothing if it already is. The line's lock is never held across a yield."""
        last = None
        while True:
            with self._changed:
                while True:
                    if turn in self._answering or turn not in self._line:  # admitted, or left (cancelled)
                        return
                    ahead = len(self._answering) + self._line.index(turn)
                    if ahead != last:
                        break
                    self._changed.wait()
            last = ahead
            yield ahead

    def leave(self, turn: object) -> None:
        """The turn's question is done or abandoned, waiting or answering: its place goes to the next. Idempotent."""
        with self._changed:
            if turn in self._line:
                self._line.remove(turn)
            self._answering.discard(turn)
            self._widths.pop(turn, None)
            self._last_busy = time.monotonic()
            self._admit()

    def quiet(self, seconds: float = 0.0) -> bool:
        """Nothing answering or waiting, and nothing was for the last `seconds`."""
        return self.wait_quiet(seconds, 0.0)

    def wait_quiet(self, seconds: float, timeout: float) -> bool:
        """Block until `quiet(seconds)`, or `timeout` seconds pass; True when quiet."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                busy = self._answering or self._line
                left = deadline - time.monotonic()
                if not busy and time.monotonic() - self._last_busy >= seconds:
                    return True
                if left <= 0:
                    return False
                # idle but not yet for long enough: nothing notifies when that time is up, so wake for it
                self._changed.wait(left if busy else min(left, seconds - (time.monotonic() - self._last_busy)))

    def counts(self) -> tuple[int, int]:
        """(answering, waiting) now."""
        with self._changed:
            return len(self._answering), len(self._line)

    def _admit(self) -> None:
        """Move turns from the head of the line while there is room; the lock is held."""
        while self._line and len(self._answering) < self._widths[self._line[0]]:
            self._answering.add(self._line.pop(0))
        self._changed.notify_all()


ADMISSION = Admission()
