"""Fresh knowledge: documents one session adds, searched at once by RAG, and taught to the LoRA answer head at a
cost in pairs and minutes.

An `Overlay` belongs to one session (a browser tab, a CLI run). It holds what was added, in memory: each document
checked (`read_document`), chunked by the corpus chunker and embedded by the shipped embedder. `Overlay.searcher`
ranks the shipped index's chunks and the added ones together, dense (FAISS cosine) and keywords (BM25 over both)
fused by reciprocal rank as in fourpaths/hybrid.py. A taught adapter is written to the overlay's own temporary
folder. Nothing is ever written to index/, corpus/ or models/, and no module-level cache holds an overlay's
documents or adapter, so one session never sees another's and both are freed with it.

    overlay = Overlay(settings)
    add_document_file(overlay, "price-list.md")
    ask(question, settings, workspace=Workspace(settings, overlay=overlay))
    report = overlay.teach(overlay.check_pairs(propose_pairs(overlay.documents()[0].document)), budget_s=120)
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fourpaths.config import Settings, resolve_location
from fourpaths.corpus import Chunk, Document, chunk_document
from fourpaths.errors import FourpathsError
from fourpaths.retrieval import DEFAULT_BATCH_SIZE, Hit, SearchIndex, embed_texts, load_embedder
from fourpaths.scoring import normalise

MAX_DOCUMENT_BYTES = 200_000  # about 30,000 words: a long policy, not a book
MAX_DOCUMENTS = 20  # per session: each costs memory for its vectors and in every search
MAX_PAIRS = 50
MAX_ANSWER_CHARS = 200
TEXT_EXTENSIONS = (".md", ".txt")
COLLECTION = "added"  # added documents are cited as "added/<name>"
DEFAULT_BUDGET_S = 120.0
CONTROL_SHARE = 0.05  # more control characters than this (tabs and newlines aside) is not text

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------------
# Reading a document


def _clean_name(name: str, default: str) -> str:
    """The file's own name (no folders), in safe characters, with a .md or .txt ending."""
    base = Path(str(name or "").replace("\\", "/")).name.strip()
    base = re.sub(r"[^A-Za-z0-9._ -]+", "-", base).strip(" .-") or default
    return base if base.lower().endswith(TEXT_EXTENSIONS) else f"{base}.md"


def decode_text(name: str, data: bytes) -> str:
    """The text of an uploaded file, or FourpathsError with the one-line reason it cannot be added."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        raise FourpathsError(f"{name}: PDF files are not read (no PDF library is installed); paste the text, or "
                             "save it as .txt or .md")
    if suffix not in TEXT_EXTENSIONS:
        raise FourpathsError(f"{name}: unsupported file type {suffix or '(no extension)'!r}; add a .md or .txt file")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise FourpathsError(f"{name}: {len(data):,} bytes is over the limit of {MAX_DOCUMENT_BYTES:,} bytes "
                             "(about 30,000 words)")
    if not data.strip():
        raise FourpathsError(f"{name}: the file is empty")
    if b"\x00" in data:
        raise FourpathsError(f"{name}: this is a binary file, not text (it holds NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FourpathsError(f"{name}: not UTF-8 text (undecodable byte 0x{data[error.start]:02x} at position "
                             f"{error.start:,}); save it as UTF-8") from None
    return text


def check_text(name: str, text: str) -> str:
    """Pasted or decoded text, checked: not empty, not over the limit, not binary-looking."""
    if not text or not text.strip():
        raise FourpathsError(f"{name}: the text is empty")
    size = len(text.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise FourpathsError(f"{name}: {size:,} bytes is over the limit of {MAX_DOCUMENT_BYTES:,} bytes "
                             "(about 30,000 words)")
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f") + text.count("\ufffd")
    if "\x00" in text or control > CONTROL_SHARE * len(text):
        raise FourpathsError(f"{name}: this looks like a binary file, not text ({control:,} control characters)")
    return text.replace("\r\n", "\n")


def _digest(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


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
class TeachReport:
    """What teaching cost (examples, steps, seconds) and what it bought (recall, rewordings)."""

    pairs: int
    new_answers: int
    examples: int  # examples trained on, new pairs and shipped data together
    new_examples: int
    steps: int
    seconds: float  # the whole call: preparing, training, saving and measuring
    train_seconds: float
    budget_s: float
    recall: float  # the taught questions, as written, that get their answer shown
    reworded_accuracy: float  # the same for rewordings (fourpaths/training/question_variants.py)
    shipped_recall: float  # the shipped adapter's own training questions, after teaching
    location: str
    losses: list[tuple[int, float]] = field(default_factory=list)

    def cost_line(self) -> str:
        return (f"{self.examples:,} examples ({self.new_examples:,} from your {self.pairs} pairs), {self.steps} steps, "
                f"{self.seconds:.0f} s ({self.train_seconds:.0f} s training, budget {self.budget_s:.0f} s)")

    def bought_line(self) -> str:
        return (f"recall on the taught pairs {self.recall:.0%}, on reworded questions {self.reworded_accuracy:.0%}; "
                f"the shipped training questions still answered: {self.shipped_recall:.0%}")


@dataclass
class _Adapter:
    location: str
    head: object  # fourpaths.answer_head.AnswerHead, merged and ready
    report: TeachReport


@dataclass(frozen=True)
class Pair:
    """A question/answer pair to teach; the answer must occur in the document `source`."""

    question: str
    answer: str
    source: str


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
        name = _clean_name(name, f"pasted-{len(self._added) + 1}.md")
        text = check_text(name, text)
        digest = _digest(text)
        document = Document(name=name, path=Path(name), text=text, collection=COLLECTION)
        with self._lock:
            self._refuse_duplicate(document, digest)
        chunks = tuple(chunk_document(document, self.settings.chunk_words, self.settings.chunk_overlap))
        if not chunks:
            raise FourpathsError(f"{name}: no text to index")
        # the index's batch size: batches of 8 took 3-4x as long on a busy 2-core machine
        vectors = embed_texts(self.embedder(), [chunk.text for chunk in chunks], DEFAULT_BATCH_SIZE, progress)
        added = Added(document, chunks, vectors, round(time.perf_counter() - started, 3), digest)
        with self._lock:
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
        from fourpaths.teach import TeachPair
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
            if self._folder is None:
                self._folder = tempfile.TemporaryDirectory(prefix="fourpaths-session-")
            return Path(self._folder.name)

    def teach(self, pairs, budget_s: float = DEFAULT_BUDGET_S, progress: Callable[[int, float], None] | None = None,
              cancel: Callable[[], bool] | None = None, seed: int = 0, max_steps: int | None = None) -> TeachReport:
        """Teach the shipped answer head these pairs (Pair, checked here, or TeachPair from check_pairs) within
        `budget_s`; on success the session's LoRA path answers with the new adapter. Cancelled or failed, the
        adapter in use (shipped or taught before) stays, and the half-written folder is removed."""
        from fourpaths import engine
        from fourpaths.answer_head import AnswerHead
        from fourpaths.teach import TeachingCancelled, TeachPair, train_with_pairs

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
            output = self.folder() / f"adapter-{time.time_ns()}"
            try:
                taught = train_with_pairs(Path(shipped), Path(resolve_location(self.settings.corpus_root)), pairs,
                                          output, budget_s, progress, cancel, seed, max_steps)
            except FourpathsError:
                shutil.rmtree(output, ignore_errors=True)
                raise
            except Exception as error:  # noqa: BLE001 - shown as one line; the adapter in use stays
                shutil.rmtree(output, ignore_errors=True)
                raise FourpathsError(f"teaching failed ({type(error).__name__}: {error}); the previous adapter stays "
                                     "in use") from error
            summary = taught.summary
            report = TeachReport(summary["pairs"], summary["new_answers"], summary["examples_trained"],
                                 summary["new_examples_trained"], summary["steps"], summary["seconds"],
                                 summary["train_seconds"], budget_s, summary["recall"], summary["reworded_accuracy"],
                                 summary["shipped_recall"], str(output), summary["losses"])
            head = AnswerHead(taught.model, taught.tokenizer, taught.answers, taught.threshold, taught.max_length,
                              str(output))
            with self._lock:
                if generation != self._generation:  # reset while training: this adapter belongs to nobody
                    shutil.rmtree(output, ignore_errors=True)
                    raise TeachingCancelled("the session was reset while teaching; the shipped adapter is in use")
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


def _holds(text: str, answer: str) -> bool:
    """The answer occurs in the text as whole words, case and punctuation aside."""
    needle = normalise(answer)
    return bool(needle) and f" {needle} " in f" {normalise(text)} "


def add_document_file(overlay: Overlay, path: str | Path, progress: Progress | None = None) -> Added:
    """The CLI's --add-document: read a .md or .txt file and add it to the overlay."""
    path = Path(path)
    if not path.is_file():
        raise FourpathsError(f"{path}: file not found")
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

RRF_K = 60  # as in fourpaths/hybrid.py


class OverlaySearcher:
    """The shipped index's chunks and the added ones, ranked together: by cosine (one FAISS search on each, the
    same query vector), and, when hybrid, by BM25 over all their texts, fused by reciprocal rank."""

    def __init__(self, index: SearchIndex, added: SearchIndex, hybrid: bool = True) -> None:
        from fourpaths.keyword_search import KeywordIndex

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
        cosine = {(hit.source, hit.chunk_index): hit.score for hit in dense}
        fused = np.zeros(len(self.chunks), dtype=np.float64)
        for rank, hit in enumerate(dense):
            fused[self.positions[(hit.source, hit.chunk_index)]] += 1 / (RRF_K + rank)
        keyword_scores = self.keywords.scores(query)
        for rank, position in enumerate(np.argsort(-keyword_scores, kind="stable")):
            if keyword_scores[position] <= 0:
                break
            fused[position] += 1 / (RRF_K + rank)
        best = np.argsort(-fused, kind="stable")[:k]
        return [Hit(self.chunks[p].source, self.chunks[p].index, self.chunks[p].text,
                    cosine[(self.chunks[p].source, self.chunks[p].index)]) for p in best]


# ---------------------------------------------------------------------------
# Proposing question/answer pairs from a document's sentences

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
           "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_NUMBER = r"(?<![\w:£$€.,])\d(?:[\d,]*\d)?(?:\.\d+)?"  # 1,200 or 6.8, never the tail of 07:40 or £3
_NOT_UNITS = frozenset("and or to of the a an per by in on at for from with is are was were be as than that this "
                       "these those it its if when which who what each every".split())
_UNIT_ADJECTIVES = frozenset("working business calendar full extra more fewer additional free paid".split())
# Kinds of short answers, most specific first; a sentence gives one pair, from the first kind found.
_KINDS = (
    ("money", re.compile(r"[£$€]\s?\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion)\b)?")),
    ("percent", re.compile(_NUMBER + r"\s?(?:%|per ?cent\b)")),
    ("date", re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b(?:\s+\d{{4}})?|"
                        rf"\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|"
                        rf"\b(?:{_MONTHS})\s+\d{{4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b")),
    ("day", re.compile(r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)s?\b")),
    ("time", re.compile(r"\b\d{1,2}:\d{2}(?:\s?[ap]\.?m\.?)?(?![\w:])|\b\d{1,2}\s?[ap]m\b")),
    ("year", re.compile(r"(?<![\w:£$€.,])(?:19|20)\d{2}\b(?![.,]\d)")),
    ("quantity", re.compile(_NUMBER + r"\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?")),
    ("code", re.compile(r"\b[A-Z]{2,}-?\d[A-Za-z0-9-]*\b")),
    ("name", re.compile(r"\b(?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
                        r"(?:\s+(?:[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?|of|de|van))*"
                        r"\s+[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?\b")),
    ("number", re.compile(_NUMBER + r"\b")),
)
_OPENERS = frozenset("The A An This That These Those Our Your Each Every All From In On For If When At By Some Any "
                     "After Before Since Until".split())
_TITLES = ("Dr", "Mr", "Mrs", "Ms", "Prof")
_PRONOUN_START = re.compile(r"^(?:It|This|That|They|These|Those|He|She|We|Its|Their)\b")
_PREPOSITION = re.compile(r"\b(on|in|at|from|until|till|by|before|after|since|to)\s+$", re.IGNORECASE)
MIN_SENTENCE_WORDS, MAX_SENTENCE_WORDS = 4, 40


def _spans(sentence: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every short answer in the sentence, most specific kind first, none overlapping one
    found before it."""
    found: list[tuple[str, int, int]] = []
    for kind, pattern in _KINDS:
        for match in pattern.finditer(sentence):
            start, end = match.span()
            if kind == "quantity":
                unit, second = match.group(1), match.group(2)
                if unit in _NOT_UNITS or len(unit) < 2:
                    continue
                if not (unit in _UNIT_ADJECTIVES and second and second not in _NOT_UNITS):
                    end = match.start(1) + len(unit)  # "3 working days" keeps both words, "55 minutes in" one
            if kind == "name":
                words = match.group(0).split()
                while words and words[0] in _OPENERS:
                    start += len(words[0]) + 1
                    words = words[1:]
                if len(words) < 2:
                    continue
            if any(start < other_end and other_start < end for _, other_start, other_end in found):
                continue
            found.append((kind, start, end))
    return found


def _question(sentence: str, kind: str, start: int, end: int) -> str:
    before, span, after = sentence[:start], sentence[start:end], sentence[end:]
    preposition = _PREPOSITION.search(before)
    preposition = preposition.group(1).lower() if preposition else ""
    drop = False  # the preposition is part of the question word ("on 4 May" -> "when")
    if kind == "money":
        wh = "how much"
    elif kind == "percent":
        wh = "what percentage"
    elif kind == "date":
        drop, wh = preposition in ("on", "in", "at"), "when" if preposition in ("on", "in", "at", "") else "what date"
    elif kind == "day":
        days = "days" if span.endswith("s") else "day"
        drop, wh = preposition == "on", f"on which {days}" if preposition == "on" else f"which {days}"
    elif kind == "time":
        drop, wh = preposition == "at", "at what time" if preposition in ("at", "") else "what time"
    elif kind == "year":
        drop, wh = preposition == "in", "in which year" if preposition in ("in", "") else "which year"
    elif kind == "quantity":
        wh = "how many " + " ".join(span.split()[1:])
    elif kind == "number":
        wh = "how many"
    elif kind == "code":
        wh = "which code"
    else:
        person = span.split()[0].rstrip(".") in _TITLES or not before.strip() or preposition == "by" \
            or re.search(r"\b(?:is|was|by)\s+$", before)
        wh = "who" if person else "what"
        opener = re.match(r"^\s*(?:The|A|An)\s+$", before)
        if opener:  # "The Marrowfield Orchard was founded ..." -> "What was founded ..."
            before = ""
    if drop:
        before = before[:_PREPOSITION.search(before).start()]
    text = " ".join(f"{before} {wh} {after}".split())
    text = re.sub(r"\s+([,;:.!?])", r"\1", text).rstrip(" .!;:,")
    return text[:1].upper() + text[1:] + "?"


def _without_asides(sentence: str, answer_span: tuple[int, int]) -> tuple[str, int, int]:
    """Drop parentheses that do not hold the answer: questions read better without them."""
    start, end = answer_span
    pieces, position, shift = [], 0, 0
    for match in re.finditer(r"\s*\([^()]*\)", sentence):
        if match.start() <= start < match.end() or match.start() < end <= match.end():
            continue
        pieces.append(sentence[position:match.start()])
        if match.end() <= start:
            shift += match.end() - match.start()
        position = match.end()
    pieces.append(sentence[position:])
    return "".join(pieces), start - shift, end - shift


def _clauses(text: str):
    """(heading, clause) for each sentence of a Markdown document, split at semicolons too: a table row's cells
    come out as separate short clauses, which are then too short to ask about."""
    from fourpaths.training.answer_head import headed_sentences

    for heading, sentence in headed_sentences(text):
        heading = heading.replace("*", "").strip(" ?:.")
        for clause in sentence.replace("*", "").split(";"):
            clause = clause.strip()
            if MIN_SENTENCE_WORDS <= len(clause.split()) <= MAX_SENTENCE_WORDS:
                yield heading, clause


def propose_pairs(document: Document, limit: int = 12) -> list[Pair]:
    """Question/answer pairs from the document's sentences: a price, percentage, date, day, time, year, quantity,
    code, name or number in a sentence is the answer, and the sentence with that span replaced by a question word
    is the question. One pair per sentence, each answer once; the first `limit` in document order."""
    pairs: list[Pair] = []
    answers: set[str] = set()
    for heading, sentence in _clauses(document.text):
        for kind, start, end in _spans(sentence):
            text, start, end = _without_asides(sentence, (start, end))
            answer = text[start:end].strip(" ,.;:")
            if not answer or normalise(answer) in answers:
                continue
            question = _question(text, kind, start, end)
            if _PRONOUN_START.match(question) and heading:
                question = f"{heading}: {question[:1].lower()}{question[1:]}"
            answers.add(normalise(answer))
            pairs.append(Pair(question, answer, document.source))
            break
        if len(pairs) >= limit:
            break
    return pairs


# ---------------------------------------------------------------------------
# Teaching in the background (for the page; the CLI and tests call Overlay.teach directly)


class TeachJob:
    """Overlay.teach on a thread of its own, its progress readable at any time: the page polls it."""

    def __init__(self, overlay: Overlay, pairs, budget_s: float = DEFAULT_BUDGET_S, seed: int = 0) -> None:
        self.overlay = overlay
        self.budget_s = budget_s
        self.losses: list[tuple[int, float]] = []
        self.report: TeachReport | None = None
        self.error: str | None = None
        self.started = time.perf_counter()
        self.finished: float | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pairs, seed), daemon=True, name="fourpaths-teach")
        self._thread.start()

    def _run(self, pairs, seed: int) -> None:
        try:
            self.report = self.overlay.teach(pairs, self.budget_s, self._progress, self._cancel.is_set, seed)
        except FourpathsError as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001 - the page shows it; the thread must not die silently
            self.error = f"teaching failed: {type(error).__name__}: {error}"
        finally:
            self.finished = time.perf_counter()

    def _progress(self, step: int, loss: float) -> None:
        self.losses.append((step, loss))

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
