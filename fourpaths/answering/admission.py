"""First come, first served across a process's sessions: at most a few questions answered at once, the others
waiting in the order they arrived, each able to say how many are ahead of it."""

from __future__ import annotations

import threading
from typing import Iterator


class Admission:
    """Process-wide, first come first served: at most `width` questions answered at once (each question brings
    its own settings' concurrent_questions), the others wait in the order they arrived."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._line: list[object] = []  # waiting turns, in arrival order
        self._widths: dict[object, int] = {}
        self._answering: set[object] = set()

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
            self._admit()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is answering or waiting, or `timeout` seconds pass; True when idle."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._answering and not self._line, timeout)

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
