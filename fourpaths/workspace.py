"""The shared resources the paths draw on, each loaded on first use and then reused by every caller."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from fourpaths import models, prompts
from fourpaths.config import PROJECT_ROOT, Settings, resolve_location
from fourpaths.corpus import load_questions

_examples_cache: dict[str, list[prompts.Example]] = {}
_index_cache: dict[tuple, object] = {}
_searcher_cache: dict[int, object] = {}
_lock = threading.Lock()


class Workspace:
    """Resolves the settings' locations and hands out the loaded models, the search index and examples."""

    def __init__(self, settings: Settings, index_progress=None) -> None:
        self.settings = settings
        self.index_progress = index_progress
        self.index_rebuilt = False

    def base(self) -> models.LoadedModel:
        adapter = resolve_location(self.settings.lora_adapter) or None
        return models.load_base_with_adapter(resolve_location(self.settings.base_model), adapter)

    def scratch(self) -> models.LoadedModel:
        return models.load_plain(resolve_location(self.settings.scratch_model))

    def corpus_root(self) -> Path:
        return Path(resolve_location(self.settings.corpus_root))

    def index_dir(self) -> Path:
        folder = Path(self.settings.index_dir)
        return folder if folder.is_absolute() else PROJECT_ROOT / folder

    def index(self):
        from fourpaths.corpus import corpus_stat_signature
        from fourpaths.retrieval import open_index

        s = self.settings
        key = (str(self.corpus_root()), str(self.index_dir()), s.embedder, s.chunk_words, s.chunk_overlap)
        with _lock:
            cached = _index_cache.get(key)
        if cached is not None and not self._stale(key, cached):
            return cached[0]
        signature = corpus_stat_signature(self.corpus_root())  # taken first: a later edit must look stale
        index, self.index_rebuilt = open_index(self.corpus_root(), self.index_dir(), resolve_location(s.embedder),
                                               s.chunk_words, s.chunk_overlap, progress=self.index_progress)
        with _lock:
            _index_cache[key] = (index, signature, index.fingerprint)
        return index

    def searcher(self):
        """What the RAG path searches with: the index itself (dense), or the hybrid ranking over it."""
        index = self.index()
        if self.settings.retrieval == "dense":
            return index
        from fourpaths.hybrid import HybridSearcher

        with _lock:
            cached = _searcher_cache.get(id(index))
            if cached is None or cached.index is not index:
                cached = _searcher_cache[id(index)] = HybridSearcher(index)
        return cached

    def _stale(self, key, cached) -> bool:
        """Stat the documents on every question; read and hash them only when a stat changed."""
        from fourpaths.corpus import corpus_fingerprint, corpus_stat_signature

        index, signature, fingerprint = cached
        now = corpus_stat_signature(self.corpus_root())
        if now == signature:
            return False
        if fingerprint is not None and corpus_fingerprint(self.corpus_root()) == fingerprint:
            with _lock:  # touched, not changed: remember the new stats
                _index_cache[key] = (index, now, fingerprint)
            return False
        return True

    def few_shot_examples(self, question: str, count: int) -> list[prompts.Example]:
        """A seeded sample of the train set: the same examples for the same seed, whoever asks."""
        key = str(self.corpus_root())
        with _lock:
            if key not in _examples_cache:
                items = load_questions(self.corpus_root(), "train")
                _examples_cache[key] = [prompts.Example(item.question, item.answer) for item in items]
        pool = [example for example in _examples_cache[key] if example.question != question]
        return random.Random(self.settings.seed).sample(pool, min(count, len(pool)))
