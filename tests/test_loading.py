"""Loading every model once per process (fourpaths.answering.loading), on the micro models."""

from __future__ import annotations

import gc

from fourpaths.answering.loading import start_loading


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_loading_reports_progress_and_leaves_the_loaded_objects_out_of_collections(micro_settings):
    gc.unfreeze()
    loading = start_loading(micro_settings)
    assert loading.wait(300), "the micro models never finished loading"
    assert loading.finished and loading.problems == [] and loading.text == "Models loaded"
    assert loading.done == loading.total > 0 and loading.fraction == 1.0
    frozen = gc.get_freeze_count()
    assert frozen > 10_000, "the loaded models' objects are still walked by every collection"
    Cycle()  # garbage made after loading is still collected
    assert gc.collect() >= 1
    assert gc.get_freeze_count() == frozen
