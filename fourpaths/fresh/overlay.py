"""Fresh knowledge: documents one session adds, searched at once by RAG, and taught to the LoRA answer head at a
cost in pairs and minutes.

An `Overlay` belongs to one session (a browser tab, a CLI run). It holds what was added, in memory: each document
checked (`read_document`), chunked by the corpus chunker and embedded by the shipped embedder. `Overlay.searcher`
ranks the shipped index's chunks and the added ones together, dense (FAISS cosine) and keywords (BM25 over both)
fused by reciprocal rank as in fourpaths/retrieval/fusion.py. A taught adapter is written to the overlay's own temporary
folder. Nothing is ever written to index/, corpus/ or models/, and no module-level cache holds an overlay's
documents or adapter, so one session never sees another's and both are freed with it.

    overlay = Overlay(settings)
    add_document_file(overlay, "price-list.md")
    ask(question, settings, workspace=Workspace(settings, overlay=overlay))
    report = overlay.teach(overlay.check_pairs(propose_pairs(overlay.documents()[0].document)), budget_s=120)
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fourpaths.config import Settings, resolve_location
from fourpaths.errors import FourpathsError
from fourpaths.fresh.proposals import MAX_ANSWER_CHARS, MAX_PAIRS, Pair
from fourpaths.fresh.teaching import DEFAULT_BUDGET_S, TeachReport
from fourpaths.fresh.uploads import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS,
    MAX_PASSAGES,
    check_text,
    clean_name,
    decode_text,
    text_digest,
)
from fourpaths.measure.scoring import contains_words, normalise
from fourpaths.retrieval.corpus import Chunk, Document, chunk_document
from fourpaths.retrieval.embedder import DEFAULT_BATCH_SIZE, embed_texts, load_embedder
from fourpaths.retrieval.fusion import fuse
from fourpaths.retrieval.index import Hit, SearchIndex
from fourpaths.retrieval.keywords import KeywordIndex

COLLECTION = "added"  # added documents are cited as "added/<name>"

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------------
# The overlay


@dataclass(frozen=True)
class Added:
    """One added document: its chunks and their vectors, and what adding it cost."""

    document: Document
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray
    seconds: float  # checked, chunked and embedded (the search over it is built on its first use, ~0.1 s)
    digest: str

    @property
    def source(self) -> str:
        return self.document.source


@dataclass
class _Adapter:
    location: str
    head: object  # fourpaths.answering.answer_head.AnswerHead, merged and ready
    report: TeachReport


class Overlay:
    """One session's added documents and taught adapter; thread-safe, in memory and a temporary folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._added: dict[str, Added] = {}
        self._version = 0
        self._searchers: dict = {}
        self._adapter: _Adapter | None = None
        self._folder: tempfile.TemporaryDirectory | None = None
        self._generation = 0  # bumped by reset: a teaching that started before it must not install its adapter
        self._closed = False  # the session ended: nothing more is added, taught or written
        self._teaching = threading.Lock()

    # -- documents ----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._added)

    def documents(self) -> list[Added]:
        with self._lock:
            return list(self._added.values())

    def document(self, source: str) -> Document:
        with self._lock:
            if source not in self._added:
                raise FourpathsError(f"{source}: no such added document")
            return self._added[source].document

    def embedder(self):
        return load_embedder(resolve_location(self.settings.embedder) or None)

    def add_bytes(self, name: str, data: bytes, progress: Progress | None = None) -> Added:
        """An uploaded file: checked (type, size, empty, binary, UTF-8) and added."""
        name = Path(str(name or "").replace("\\", "/")).name or "upload"
        return self.add_text(name, decode_text(name, data), progress)

    def add_text(self, name: str, text: str, progress: Progress | None = None) -> Added:
        """Check, chunk (the corpus chunker, the index's chunk settings) and embed one document; then it is
        searchable. A document already added (the same words) or a name already taken is refused."""
        started = time.perf_counter()
        name = clean_name(name, f"pasted-{len(self._added) + 1}.md")
        text = check_text(name, text)
        digest = text_digest(text)
        document = Document(name=name, path=Path(name), text=text, collection=COLLECTION)
        with self._lock:
            self._refuse_duplicate(document, digest)
        chunks = tuple(chunk_document(document, self.settings.chunk_words, self.settings.chunk_overlap))
        if not chunks:
            raise FourpathsError(f"{name}: no text to index")
        if len(chunks) > MAX_PASSAGES:
            raise FourpathsError(f"{name}: it makes {len(chunks):,} passages of {self.settings.chunk_words} words; "
                                 f"a document may make at most {MAX_PASSAGES:,}: split it, or add its main part")
        # the index's batch size: batches of 8 took 3-4x as long on a busy 2-core machine
        vectors = embed_texts(self.embedder(), [chunk.text for chunk in chunks], DEFAULT_BATCH_SIZE, progress)
        added = Added(document, chunks, vectors, round(time.perf_counter() - started, 3), digest)
        with self._lock:
            if self._closed:
                raise FourpathsError("this session has ended")
            self._refuse_duplicate(document, digest)  # another thread may have added it meanwhile
            self._added[document.source] = added
            self._changed()
        return added

    def _refuse_duplicate(self, document: Document, digest: str) -> None:
        if len(self._added) >= MAX_DOCUMENTS:
            raise FourpathsError(f"{document.name}: a session holds at most {MAX_DOCUMENTS} documents; "
                                 "remove one first")
        for other in self._added.values():
            if other.digest == digest:
                raise FourpathsError(f"{document.name}: a duplicate of {other.source}, already added")
        if document.source in self._added:
            raise FourpathsError(f"{document.name}: a document of that name is already added; remove it first, or "
                                 "give this one another name")

    def remove(self, source: str) -> None:
        with self._lock:
            if self._added.pop(source, None) is None:
                raise FourpathsError(f"{source}: no such added document")
            self._changed()

    def _changed(self) -> None:
        self._version += 1
        self._searchers.clear()

    def searcher(self, index: SearchIndex, hybrid: bool = True) -> "OverlaySearcher":
        """A searcher over the shipped index and the added documents, built once per change."""
        with self._lock:
            key = (id(index), hybrid, self._version)
            cached = self._searchers.get(key)
            if cached is None or cached.index is not index:
                added = self.documents()
                chunks = [chunk for item in added for chunk in item.chunks]
                vectors = np.vstack([item.vectors for item in added]) if added else np.zeros((0, index.dimension))
                if vectors.shape[1] != index.dimension:
                    raise FourpathsError(f"the added documents' vectors have {vectors.shape[1]} dimensions, the "
                                         f"search index {index.dimension}: the embedder changed; reset and add again")
                own = SearchIndex(chunks, vectors, index.embedder, embedder_location=index.embedder_location,
                                  max_words=self.settings.chunk_words, overlap_words=self.settings.chunk_overlap)
                cached = self._searchers[key] = OverlaySearcher(index, own, hybrid)
            return cached

    # -- pairs and teaching -------------------------------------------------

    def check_pairs(self, pairs: Sequence[Pair]):
        """The pairs as the teacher takes them, each answer found in its document; FourpathsError names the first
        bad pair (1-based, as the page's table counts)."""
        from fourpaths.fresh.teaching import TeachPair
        from fourpaths.training.answer_head import headed_sentences

        if not pairs:
            raise FourpathsError("no question/answer pairs: propose some or add a row")
        if len(pairs) > MAX_PAIRS:
            raise FourpathsError(f"{len(pairs)} pairs; teach at most {MAX_PAIRS} at a time")
        checked, seen = [], set()
        for number, pair in enumerate(pairs, start=1):
            question, answer = " ".join(str(pair.question or "").split()), " ".join(str(pair.answer or "").split())
            if not question:
                raise FourpathsError(f"pair {number}: the question is empty")
            if not answer:
                raise FourpathsError(f"pair {number}: the answer is empty")
            if len(answer) > MAX_ANSWER_CHARS:
                raise FourpathsError(f"pair {number}: the answer is {len(answer)} characters; keep it under "
                                     f"{MAX_ANSWER_CHARS} (the fact, not its paragraph)")
            if normalise(question) in seen:
                raise FourpathsError(f"pair {number}: the question {question!r} is asked twice")
            seen.add(normalise(question))
            document = self.document(pair.source) if pair.source else None
            if document is None:
                raise FourpathsError(f"pair {number}: say which added document holds the answer")
            if not _holds(document.text, answer):
                raise FourpathsError(f"pair {number}: the answer {answer!r} is not in {document.source}")
            heading, sentence = next(((h, s) for h, s in headed_sentences(document.text) if _holds(s, answer)),
                                     ("", ""))
            checked.append(TeachPair(question, answer, sentence, heading))
        return checked

    @property
    def adapter_location(self) -> str | None:
        adapter = self._adapter
        return adapter.location if adapter else None

    @property
    def answer_head(self):
        adapter = self._adapter
        return adapter.head if adapter else None

    @property
    def report(self) -> TeachReport | None:
        adapter = self._adapter
        return adapter.report if adapter else None

    def folder(self) -> Path:
        """This session's temporary folder (deleted by reset, or when the overlay is garbage-collected)."""
        with self._lock:
            if self._closed:
                raise FourpathsError("this session has ended")
            if self._folder is None:
                self._folder = tempfile.TemporaryDirectory(prefix="fourpaths-session-")
            return Path(self._folder.name)

    def teach(self, pairs, budget_s: float = DEFAULT_BUDGET_S, hooks=None, seed: int = 0,
              max_steps: int | None = None) -> TeachReport:
        """Teach the shipped answer head these pairs (Pair, checked here, or TeachPair from check_pairs) for
        `budget_s` seconds of training (fourpaths.fresh.teaching.Hooks: phases, steps, cancel, pauses); on success
        the adapter is saved in this session's folder and the session's LoRA path answers with it. Cancelled,
        failed, or the session reset or closed meanwhile: nothing is written, the adapter in use stays."""
        from fourpaths.answering import engine
        from fourpaths.answering.answer_head import AnswerHead
        from fourpaths.fresh.teaching import TeachingCancelled, TeachPair, train_with_pairs

        shipped = resolve_location(self.settings.lora_adapter)
        if not shipped or not Path(shipped).is_dir():
            raise FourpathsError(f"no shipped LoRA adapter folder to teach ({shipped or 'lora_adapter is empty'})")
        if engine.adapter_task(shipped) != "SEQ_CLS":
            raise FourpathsError(f"{shipped}: not an answer-head adapter (task_type SEQ_CLS); only an answer head "
                                 "can be taught new answers here")
        pairs = list(pairs)
        if not pairs or not all(isinstance(pair, TeachPair) for pair in pairs):
            pairs = self.check_pairs(pairs)
        if not self._teaching.acquire(blocking=False):
            raise FourpathsError("this session is already teaching; wait for it or cancel it")
        try:
            generation = self._generation
            try:
                taught = train_with_pairs(Path(shipped), Path(resolve_location(self.settings.corpus_root)), pairs,
                                          budget_s, hooks, seed, max_steps)
            except FourpathsError:
                raise
            except Exception as error:  # noqa: BLE001 - shown as one line; the adapter in use stays
                raise FourpathsError(f"teaching failed ({type(error).__name__}: {error}); the previous adapter stays "
                                     "in use") from error
            with self._lock:  # saved only for a session still there and not reset since the teaching began
                if generation != self._generation or self._closed:
                    raise TeachingCancelled("the session was reset while teaching; the shipped adapter is in use")
                output = self.folder() / f"adapter-{time.time_ns()}"
                try:
                    taught.save(output)
                except OSError as error:
                    shutil.rmtree(output, ignore_errors=True)
                    raise FourpathsError(f"cannot save the taught adapter in {output} ({error.strerror or error})"
                                         ) from None
                report = TeachReport.from_summary(taught.summary, budget_s, str(output))
                head = AnswerHead(taught.model, taught.tokenizer, taught.answers, taught.threshold,
                                  taught.max_length, str(output), taught.pooling)
                previous, self._adapter = self._adapter, _Adapter(str(output), head, report)
            if previous is not None:
                shutil.rmtree(previous.location, ignore_errors=True)
            return report
        finally:
            self._teaching.release()

    def forget_adapter(self) -> None:
        """Back to the shipped adapter; the documents stay."""
        with self._lock:
            previous, self._adapter = self._adapter, None
        if previous is not None:
            shutil.rmtree(previous.location, ignore_errors=True)

    def reset(self) -> None:
        """Back to the shipped state: no documents, no taught adapter, the temporary folder deleted."""
        with self._lock:
            self._added.clear()
            self._changed()
            self._adapter = None
            self._generation += 1
            folder, self._folder = self._folder, None
        if folder is not None:
            folder.cleanup()

    def close(self) -> None:
        """The session ended: reset, and refuse whatever a thread still running would add or write."""
        with self._lock:
            self._closed = True
        self.reset()


def _holds(text: str, answer: str) -> bool:
    """The answer occurs in the text as whole words, case and punctuation aside."""
    return contains_words(normalise(text), normalise(answer))


def add_document_file(overlay: Overlay, path: str | Path, progress: Progress | None = None) -> Added:
    """The CLI's --add-document: read a .md or .txt file and add it to the overlay."""
    path = Path(path)
    if path.is_dir():
        raise FourpathsError(f"{path}: a folder, not a file; give a .md or .txt file")
    if not path.exists():
        raise FourpathsError(f"{path}: file not found")
    if not path.is_file():
        raise FourpathsError(f"{path}: not a regular file (a pipe, socket or device); give a .md or .txt file")
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:  # refused before reading a large file into memory
            raise FourpathsError(f"{path.name}: {size:,} bytes is over the limit of {MAX_DOCUMENT_BYTES:,} bytes "
                                 "(about 30,000 words)")
        data = path.read_bytes()
    except OSError as error:
        raise FourpathsError(f"{path}: cannot read the file ({error.strerror or error})") from None
    return overlay.add_bytes(path.name, data, progress)


# ---------------------------------------------------------------------------
# Search over the shipped index and the added documents


class OverlaySearcher:
    """The shipped index's chunks and the added ones, ranked together: by cosine (one FAISS search on each, the
    same query vector), and, when hybrid, by BM25 over all their texts, fused by reciprocal rank."""

    def __init__(self, index: SearchIndex, added: SearchIndex, hybrid: bool = True) -> None:
        self.index = index
        self.added = added
        chunks = list(index.chunks) + list(added.chunks)
        self.chunks = chunks
        self.positions = {(chunk.source, chunk.index): position for position, chunk in enumerate(chunks)}
        self.keywords = KeywordIndex([chunk.text for chunk in chunks]) if hybrid else None

    def search(self, query: str, k: int) -> list[Hit]:
        if k <= 0 or not self.chunks:
            return []
        vector = self.index.embed_queries([query]) if len(self.index) else self.added.embed_queries([query])
        dense = [hit for part in (self.index, self.added) if len(part)
                 for hit in part.search_vectors(vector, len(part))[0]]
        dense.sort(key=lambda hit: -hit.score)
        if self.keywords is None:
            return dense[:k]
        return fuse(self.chunks, self.positions, dense, self.keywords.scores(query), k)


