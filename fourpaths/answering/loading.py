"""Loading every model once per process on a thread of its own, so the app draws its navigation and the pages
that need no model (Scoreboard, Cost to build, Choose a path) at once, while the pages that answer wait behind a
progress bar that says what is loading. No streamlit here: the app reads these fields to draw the bar."""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field

from fourpaths.config import Settings


@dataclass
class Loading:
    """The models of one set of settings, loading or loaded: what is loading now, how far, what went wrong."""

    done: int = 0
    total: int = 0
    what: str = "starting"
    problems: list[str] = field(default_factory=list)
    finished: bool = False
    seconds: float | None = None
    _ready: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, done: int, total: int, what: str) -> None:
        self.done, self.total, self.what = done, total, what

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def text(self) -> str:
        if self.finished:
            return "Models loaded" if not self.problems else "Models loaded, with problems"
        step = f" ({self.done + 1} of {self.total})" if self.total else ""
        return f"Loading {self.what}{step}…"

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)


def start_loading(settings: Settings) -> Loading:
    """Load every model and the search index of `settings` on a daemon thread; returns at once."""
    from fourpaths.fresh.memory import map_large_blocks_apart

    map_large_blocks_apart()
    loading = Loading()

    def work() -> None:
        started = time.perf_counter()
        try:
            from fourpaths.answering.workspace import (
                Workspace,  # torch and transformers: imported here, off the page's way
            )

            loading.problems = Workspace(settings).preload(loading.progress)
        except Exception as error:  # noqa: BLE001 - shown in the app; the pages that need no model still work
            loading.problems = [f"loading failed: {type(error).__name__}: {error}"]
        keep_out_of_collections()
        loading.seconds = round(time.perf_counter() - started, 1)
        loading.finished = True
        loading._ready.set()

    threading.Thread(target=work, name="fourpaths-loading", daemon=True).start()
    return loading


def keep_out_of_collections() -> None:
    """Collect once, then put every object alive now, the models' above all, out of the collector's walks (gc.freeze).

    Why: Streamlit collects every generation after each script run, a fragment's included, and holds the GIL while
    it walks every object; with the models loaded, the walks of pages redrawn every second slowed every other
    session's answers (docs/reliability.md). Objects made later are collected as before."""
    gc.collect()
    gc.freeze()
