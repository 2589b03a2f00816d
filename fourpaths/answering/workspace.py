"""The shared resources the paths draw on, each loaded on first use and then reused by every caller."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from fourpaths.answering import engine, prompts
from fourpaths.config import ENDPOINT_PATHS, PROJECT_ROOT, Settings, engine_of, is_local, resolve_location
from fourpaths.errors import FourpathsError
from fourpaths.retrieval.corpus import load_questions

if TYPE_CHECKING:
    from fourpaths.answering.answer_head import AnswerHead
    from fourpaths.answering.reader import Reader

_examples_cache: dict[str, list[prompts.Example]] = {}
_index_cache: dict[tuple, object] = {}
_searcher_cache: dict[int, object] = {}
_picking_models: dict[tuple, object] = {}  # readers and answer heads: models that pick, not generate
_lock = threading.Lock()


class Workspace:
    """Resolves the settings' locations and hands out the loaded models, the search index and examples."""

    def __init__(self, settings: Settings, index_progress=None, overlay=None) -> None:
        """overlay: one session's added documents and taught adapter (fourpaths.fresh.overlay.Overlay), searched beside
        the shipped index and answering in place of the shipped adapter; never written to index/ or models/."""
        self.overlay = overlay
        if overlay is not None and overlay.adapter_location:
            settings = replace(settings, lora_adapter=overlay.adapter_location)
        self.settings = settings
        self.index_progress = index_progress
        self.index_rebuilt = False

    def base(self) -> engine.Generator:
        """The base model, with the LoRA adapter attached when it is a generative adapter for this base."""
        try:
            head = self.lora_is_answer_head()
        except FourpathsError:  # an unreadable adapter config fails the LoRA path alone, which reports it
            head = False
        served = engine_of(self.settings, "lora") == "openai"  # the endpoint holds the generative adapter
        adapter = None if head or served else (resolve_location(self.settings.lora_adapter) or None)
        return engine.load_generator(resolve_location(self.settings.base_model), adapter)

    def base_is_local(self) -> bool:
        return is_local(resolve_location(self.settings.base_model))

    def base_loads(self) -> bool:
        """Whether the base is (or can now be) loaded here; a hub id that cannot be fetched fails fast."""
        try:
            self.base()
        except FourpathsError:
            return False
        return True

    def endpoint(self, path_id: str):
        """The endpoint that writes `path_id`'s generated answers (fourpaths.answering.endpoint.Endpoint), or None
        when they are generated here."""
        if engine_of(self.settings, path_id) != "openai":
            return None
        from fourpaths.answering import endpoint

        return endpoint.connect(self.settings)

    def base_needed_here(self) -> bool:
        """Whether a path generates with the base in this process (so loading it at start pays off)."""
        s = self.settings
        return (engine_of(s, "prompt") == "local" or s.rag_answer == "generated" and engine_of(s, "rag") == "local"
                or engine_of(s, "lora") == "local" and bool(s.lora_adapter) and not self._answer_head_or_broken())

    def _answer_head_or_broken(self) -> bool:
        try:
            return self.lora_is_answer_head()
        except FourpathsError:
            return True

    def scratch(self) -> engine.Generator:
        return engine.load_generator(resolve_location(self.settings.scratch_model))

    def lora_is_answer_head(self) -> bool:
        """Whether the configured adapter picks among taught answers (PEFT SEQ_CLS) rather than generating."""
        location = resolve_location(self.settings.lora_adapter)
        # A folder that is not there is no answer head: the LoRA path reports it, the base serves the others.
        return bool(location) and Path(location).is_dir() and engine.adapter_task(location) == "SEQ_CLS"

    def answer_head(self) -> "AnswerHead":
        from fourpaths.answering.answer_head import AnswerHead

        if self.overlay is not None and self.overlay.answer_head is not None:
            return self.overlay.answer_head  # the session's taught head, freed with the session
        return self._once(("answer_head", resolve_location(self.settings.lora_adapter)), AnswerHead.load)

    def reader(self) -> "Reader":
        from fourpaths.answering.reader import Reader

        return self._once(("reader", resolve_location(self.settings.reader_model)), Reader.load)

    @staticmethod
    def _once(key: tuple, load):
        """One copy per process of a model that is not a generator, loaded by the first caller."""
        with _lock:
            if key not in _picking_models:
                with engine.LOADING:
                    _picking_models[key] = load(key[1])
            return _picking_models[key]

    def corpus_root(self) -> Path:
        return Path(resolve_location(self.settings.corpus_root))

    def index_dir(self) -> Path:
        folder = Path(self.settings.index_dir)
        return folder if folder.is_absolute() else PROJECT_ROOT / folder

    def ships_index(self) -> bool:
        """Whether the configured index folder is the one the project ships (index/), which only `fourpaths
        index` writes: the app, `ask` and the measurements read it, and never rewrite it."""
        return self.index_dir().resolve() == (PROJECT_ROOT / Settings.index_dir).resolve()

    def embed(self, texts):
        """L2-normalised embeddings by the index's embedder, the corpus's sentences from the index's table: the
        reader's sentence cosines."""
        return self.index().embed_sentences(texts)

    def index(self):
        from fourpaths.retrieval.corpus import corpus_stat_signature
        from fourpaths.retrieval.embedder import resolve_embedder_location
        from fourpaths.retrieval.files import runtime_index_dir
        from fourpaths.retrieval.index import IndexNotCurrent, open_index

        s = self.settings
        key = (str(self.corpus_root()), str(self.index_dir()), s.embedder, s.chunk_words, s.chunk_overlap)
        with _lock:
            cached = _index_cache.get(key)
        if cached is not None and not self._stale(key, cached):
            return cached[0]
        signature = corpus_stat_signature(self.corpus_root())  # taken first: a later edit must look stale
        opening = dict(embedder_location=resolve_location(s.embedder), max_words=s.chunk_words,
                       overlap_words=s.chunk_overlap, progress=self.index_progress)
        try:
            # The shipped index/ serves only the corpus, embedder and chunking it was built from; any other (a
            # corpus_root pointed elsewhere, an edited corpus) is built in the user's cache, index/ left alone.
            index, self.index_rebuilt = open_index(self.corpus_root(), self.index_dir(), **opening,
                                                   build=not self.ships_index())
        except IndexNotCurrent:
            elsewhere = runtime_index_dir(self.corpus_root(), resolve_embedder_location(opening["embedder_location"]),
                                          s.chunk_words, s.chunk_overlap)
            index, self.index_rebuilt = open_index(self.corpus_root(), elsewhere, **opening)
        with _lock:
            _index_cache[key] = (index, signature, index.fingerprint)
        return index

    def searcher(self):
        """What the RAG path searches with: the index itself (dense), or the hybrid ranking over it."""
        index = self.index()
        if self.overlay is not None and len(self.overlay):
            return self.overlay.searcher(index, hybrid=self.settings.retrieval != "dense")
        if self.settings.retrieval == "dense":
            return index
        from fourpaths.retrieval.fusion import HybridSearcher

        with _lock:
            cached = _searcher_cache.get(id(index))
            if cached is None or cached.index is not index:
                cached = _searcher_cache[id(index)] = HybridSearcher(index)
        return cached

    def _stale(self, key, cached) -> bool:
        """Stat the documents on every question; read and hash them only when a stat changed."""
        from fourpaths.retrieval.corpus import corpus_fingerprint, corpus_stat_signature

        index, signature, fingerprint = cached
        now = corpus_stat_signature(self.corpus_root())
        if now == signature:
            return False
        if fingerprint is not None and corpus_fingerprint(self.corpus_root()) == fingerprint:
            with _lock:  # touched, not changed: remember the new stats
                _index_cache[key] = (index, now, fingerprint)
            return False
        return True

    def preload(self, progress=None) -> list[str]:
        """Load every model and the search index now, so the first question is timed answering, not loading.

        progress(done, total, what) is called before each step; returns the problems met, one line each (a
        path whose model is broken still lets the others load)."""
        served = [path for path in ENDPOINT_PATHS if engine_of(self.settings, path) == "openai"]
        steps = [*([("the base model", self.base)] if self.base_needed_here() else []),
                 *([("the endpoint", self._endpoint_models)] if served else []),
                 ("the search index", self.searcher), ("the scratch model", self.scratch),
                 ("the LoRA adapter", self._lora_model),
                 *([("the reader", self.reader)] if self.settings.rag_answer != "generated" else [])]
        problems = []
        for done, (what, load) in enumerate(steps):
            if progress:
                progress(done, len(steps), what)
            try:
                load()
            except Exception as error:  # noqa: BLE001 - shown to the user, the other models still load
                problems.append(f"{what}: {engine.one_line(error)}")
        if progress:
            progress(len(steps), len(steps), "done")
        return problems

    def _lora_model(self):
        """The LoRA path's model, raising what that path would say when it cannot answer."""
        if self.lora_is_answer_head():
            return self.answer_head()
        if engine_of(self.settings, "lora") == "openai":
            return None  # the endpoint holds it: _endpoint_models checks its name
        base = self.base()
        if base.adapter_error:
            raise FourpathsError(base.adapter_error)
        return base

    def _endpoint_models(self) -> None:
        """Reach the endpoint and check that it serves each model name a served path will ask for."""
        s = self.settings
        wanted = {"prompt": (s.endpoint_model, "endpoint_model"), "rag": (s.endpoint_model, "endpoint_model"),
                  "lora": (s.endpoint_adapter, "endpoint_adapter")}
        for path_id in ENDPOINT_PATHS:
            served = self.endpoint(path_id)
            if served is None or path_id == "lora" and self._answer_head_or_broken():
                continue
            served.check_model(*wanted[path_id])

    def few_shot_examples(self, question: str, count: int) -> list[prompts.Example]:
        """A seeded sample of the train set: the same examples for the same seed, whoever asks."""
        key = str(self.corpus_root())
        with _lock:
            if key not in _examples_cache:
                items = load_questions(self.corpus_root(), "train")
                _examples_cache[key] = [prompts.Example(item.question, item.answer) for item in items]
        pool = [example for example in _examples_cache[key] if example.question != question]
        return random.Random(self.settings.seed).sample(pool, min(count, len(pool)))
