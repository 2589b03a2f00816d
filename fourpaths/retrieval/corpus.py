"""The knowledge base on disk: documents, question sets, and the chunks RAG searches.

Layout of a corpus root:
    docs/*.md      what the models were trained on
    updates/*.md   documents that arrived after training (only retrieval knows them)
    qa/<split>.jsonl  one {"id","question","answer","source"} object per line; in eval_unanswerable the
                      answer and source are empty (no document answers the question)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from fourpaths.config import PROJECT_ROOT, Settings
from fourpaths.errors import FourpathsError

COLLECTIONS = ("docs", "updates")
SPLITS = ("train", "dev", "eval_seen", "eval_unseen", "eval_natural", "eval_unanswerable")
# Sets written by hand, the way people ask, each item saying what it asks about (kind) and whether train teaches it
NATURAL_SPLITS = ("dev", "eval_natural")
KINDS = ("docs", "updates", "none")  # a fact from docs/, one only in updates/, or none: the right reply is to abstain
STYLES = ("first-person", "indirect", "synonym", "condition", "old-vs-new", "casual")
TUNING_SPLITS = ("dev",)  # for choosing checkpoints and thresholds: measured, never reported as a result
UNANSWERABLE_SPLITS = ("eval_unanswerable",)  # questions no document answers: the right reply is to abstain
# What each question set is, as people see it: a short title for tables, and a note saying what it measures.
SPLIT_TITLES = {
    "train": "trained facts, same words",
    "dev": "for tuning: questions as people ask them",
    "eval_seen": "trained facts, new words",
    "eval_unseen": "facts that arrived after training",
    "eval_natural": "questions as people ask them",
    "eval_unanswerable": "questions no document answers",
}
SPLIT_NOTES = {
    "train": "the fine-tuned paths' own training questions, asked as in training",
    "eval_seen": "trained facts, asked in new words",
    "eval_unseen": "facts from documents that arrived after training (corpus/updates)",
    "eval_unanswerable": "questions no document answers, and off-topic requests: the right reply is to abstain",
    "dev": "hand-written questions for choosing checkpoints and thresholds, never for reporting",
    "eval_natural": "hand-written questions in people's words (first person, conditions, synonyms) on facts from "
                    "docs/ and from updates/",
}
QUESTION_FIELDS = ("id", "question", "answer", "source")
CORPUS_ENV_VAR = "FOURPATHS_CORPUS"


@dataclass(frozen=True)
class Document:
    name: str  # file name, e.g. "product-ferret-amr.md"
    path: Path
    text: str
    collection: str  # "docs" or "updates"

    @property
    def source(self) -> str:
        """The key questions use to cite this document, e.g. "docs/product-ferret-amr.md"."""
        return f"{self.collection}/{self.name}"

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answer: str
    source: str
    split: str
    line: int  # 1-based line number in qa/<split>.jsonl, for error messages
    kind: str = ""  # NATURAL_SPLITS only: one of KINDS
    trained: bool = False  # NATURAL_SPLITS only: train.jsonl teaches this fact
    style: str = ""  # NATURAL_SPLITS only: one of STYLES


@dataclass(frozen=True)
class Chunk:
    source: str
    index: int  # position of the chunk within its document, from 0
    text: str


class QuestionLineError(FourpathsError):
    """One line of a question file is unusable; `rule` names which check it failed."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def default_corpus_root() -> Path:
    configured = os.environ.get(CORPUS_ENV_VAR)
    if configured:
        return Path(configured)
    return PROJECT_ROOT / "corpus"


def normalise_for_match(text: str) -> str:
    """Lowercase and collapse whitespace, so line wrapping and capitals never hide a match."""
    return " ".join(text.lower().split())


# ---------------------------------------------------------------------------
# Documents


def load_documents(root: str | Path, collections: tuple[str, ...] = COLLECTIONS) -> list[Document]:
    root = Path(root)
    documents: list[Document] = []
    for collection in collections:
        folder = root / collection
        if not folder.is_dir():
            raise FourpathsError(f"{folder}: corpus folder not found")
        documents.extend(load_collection(folder, collection))
    return documents


def load_collection(folder: Path, collection: str) -> list[Document]:
    """The *.md files of one collection folder, sorted by name so every run sees the same order."""
    return [Document(name=path.name, path=path, text=_read_document(path), collection=collection)
            for path in sorted(folder.glob("*.md"))]


def _read_document(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:  # a damaged or binary file: named, not a traceback mid-index
        raise FourpathsError(f"{path}: not UTF-8 text (byte {error.start}); fix or remove the file") from None
    except OSError as error:
        raise FourpathsError(f"{path}: cannot read document ({error.strerror or error})") from None


def corpus_fingerprint(root: str | Path) -> str:
    """sha256 of every document's name and bytes; a changed value means a stale search index."""
    root = Path(root)
    digest = hashlib.sha256()
    for collection in COLLECTIONS:
        folder = root / collection
        paths = sorted(folder.glob("*.md")) if folder.is_dir() else []
        for path in paths:
            content = path.read_bytes()
            # Lengths are hashed too, so moving bytes between name and content changes the digest.
            header = f"{collection}/{path.name}\0{len(content)}\0".encode()
            digest.update(header)
            digest.update(content)
    return digest.hexdigest()


def corpus_stat_signature(root: str | Path) -> tuple:
    """Every document's name, size and modification time: a cheap first check before hashing the bytes."""
    root = Path(root)
    entries = []
    for collection in COLLECTIONS:
        folder = root / collection
        for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            stat = path.stat()
            entries.append((collection, path.name, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


# ---------------------------------------------------------------------------
# Questions


def question_file(root: str | Path, split: str) -> Path:
    if split not in SPLITS:
        raise FourpathsError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return Path(root) / "qa" / f"{split}.jsonl"


def load_questions(root: str | Path, split: str) -> list[QAItem]:
    """Every question of one split; the first bad line raises FourpathsError "file:line: message"."""
    path = question_file(root, split)
    if not path.is_file():
        raise FourpathsError(f"{path}: question file not found")
    items = []
    for line_number, raw in iter_question_lines(path):
        try:
            items.append(parse_question_line(raw, split, line_number))
        except QuestionLineError as error:
            raise FourpathsError(f"{path}:{line_number}: {error}") from None
    if not items:
        raise FourpathsError(f"{path}: file has no questions")
    return items


def iter_question_lines(path: Path):
    """Yield (line number, text) for each non-blank line; blank lines (e.g. a final newline) are allowed."""
    with path.open(encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield line_number, raw


def parse_question_line(raw: str, split: str, line_number: int) -> QAItem:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as error:
        raise QuestionLineError("malformed-json", f"not valid JSON ({error.msg}, column {error.colno})") from None
    if not isinstance(record, dict):
        raise QuestionLineError("malformed-json", "expected a JSON object")
    natural = split in NATURAL_SPLITS
    unanswerable = split in UNANSWERABLE_SPLITS or (natural and record.get("kind") == "none")
    may_be_empty = ("answer", "source") if unanswerable else ()
    for field in QUESTION_FIELDS:
        value = record.get(field)
        if field in may_be_empty:
            if not isinstance(value, str):
                raise QuestionLineError("missing-field", f"field {field!r} must be a string (empty in {split})")
        elif not isinstance(value, str) or not value.strip():
            raise QuestionLineError("missing-field", f"field {field!r} must be a non-empty string")
    if natural:
        if record.get("kind") not in KINDS:
            raise QuestionLineError("bad-kind", f"field 'kind' must be one of {', '.join(KINDS)}")
        if not isinstance(record.get("trained"), bool):
            raise QuestionLineError("missing-field", "field 'trained' must be true or false")
        if record.get("style") not in STYLES:
            raise QuestionLineError("bad-style", f"field 'style' must be one of {', '.join(STYLES)}")
    return QAItem(
        id=record["id"],
        question=record["question"],
        answer=record["answer"],
        source=record["source"],
        split=split,
        line=line_number,
        kind=record.get("kind", "") if natural else "",
        trained=bool(record.get("trained")) if natural else False,
        style=record.get("style", "") if natural else "",
    )


# ---------------------------------------------------------------------------
# Chunking for retrieval

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class _Block:
    headings: tuple[str, ...]  # the heading path the block sits under, outermost first
    text: str


def corpus_chunks(documents: Iterable[Document], max_words: int, overlap_words: int) -> list[Chunk]:
    return [chunk for document in documents for chunk in chunk_document(document, max_words, overlap_words)]


def chunk_document(document: Document, max_words: int = Settings.chunk_words,
                   overlap_words: int = Settings.chunk_overlap) -> list[Chunk]:
    """Split a document into retrieval chunks of at most `max_words` words, heading path included.

    A chunk never crosses a heading, so its "Title > Section: " prefix is always true of its text.
    """
    if max_words < 1 or not 0 <= overlap_words < max_words:
        raise ValueError("need max_words >= 1 and 0 <= overlap_words < max_words")
    texts: list[str] = []
    for headings, blocks in _group_by_section(_split_blocks(document.text)):
        prefix = _heading_prefix(headings, max_words // 3)
        budget = max_words - len(prefix.split())
        bodies = _pack(_pieces(blocks, budget, overlap_words), budget, overlap_words)
        texts.extend(_with_prefix(prefix, body) for body in bodies or [""])
    texts = [text for text in texts if text]  # drop before numbering, so indices stay 0, 1, 2, ...
    return [Chunk(document.source, index, text) for index, text in enumerate(texts)]


def _split_blocks(text: str) -> list[_Block]:
    """Paragraphs and list items, each tagged with its heading path.

    A heading with nothing under it becomes an empty block so its words still reach a chunk.
    """
    blocks: list[_Block] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    section_has_content = True

    def flush_paragraph() -> None:
        nonlocal section_has_content
        if lines:
            blocks.append(_Block(tuple(title for _, title in stack), " ".join(lines)))
            lines.clear()
            section_has_content = True

    for raw in text.splitlines():
        line = raw.strip()
        heading = _HEADING.match(line)
        if heading:
            flush_paragraph()
            level = len(heading.group(1))
            if not section_has_content and stack and stack[-1][0] >= level:
                blocks.append(_Block(tuple(title for _, title in stack), ""))
            stack = [entry for entry in stack if entry[0] < level] + [(level, heading.group(2))]
            section_has_content = False
        elif not line:
            flush_paragraph()
        else:
            if _LIST_ITEM.match(line):
                flush_paragraph()  # each list item is its own block so packing can keep items whole
            lines.append(line)
    flush_paragraph()
    if not section_has_content and stack:
        blocks.append(_Block(tuple(title for _, title in stack), ""))
    return blocks


def _group_by_section(blocks: list[_Block]) -> list[tuple[tuple[str, ...], list[str]]]:
    groups: list[tuple[tuple[str, ...], list[str]]] = []
    for block in blocks:
        if not groups or groups[-1][0] != block.headings:
            groups.append((block.headings, []))
        if block.text:
            groups[-1][1].append(block.text)
    return groups


def _heading_prefix(headings: tuple[str, ...], max_prefix_words: int) -> str:
    """ "Title > Section", dropping outer headings (then trailing words) to keep room for the text."""
    kept = list(headings)
    while len(kept) > 1 and len(" > ".join(kept).split()) > max_prefix_words:
        kept.pop(0)
    words = " > ".join(kept).split()
    return " ".join(words[:max_prefix_words])


def _with_prefix(prefix: str, body: str) -> str:
    if prefix and body:
        return f"{prefix}: {body}"
    return prefix or body


def _pieces(blocks: list[str], budget: int, overlap_words: int) -> list[str]:
    """Blocks that fit the budget unchanged; longer ones cut at sentences, then at words.

    Word cuts leave room for the overlap, so a run-on sentence still gets context across its cuts.
    """
    cut_size = max(1, budget - overlap_words)
    pieces: list[str] = []
    for block in blocks:
        if len(block.split()) <= budget:
            pieces.append(block)
            continue
        for sentence in _SENTENCE_END.split(block):
            pieces.extend(_cut_words(sentence, budget if len(sentence.split()) <= budget else cut_size))
    return pieces


def _cut_words(text: str, budget: int) -> list[str]:
    words = text.split()
    return [" ".join(words[start : start + budget]) for start in range(0, len(words), budget)]


def _pack(pieces: list[str], budget: int, overlap_words: int) -> list[str]:
    """Greedily join consecutive pieces; a new chunk repeats the previous chunk's tail when it fits."""
    chunks: list[str] = []
    current: list[str] = []
    current_words = 0
    for piece in pieces:
        piece_words = len(piece.split())
        if current and current_words + piece_words > budget:
            chunks.append("\n".join(current))
            current, current_words = _overlap_start(chunks[-1], overlap_words, budget - piece_words)
        current.append(piece)
        current_words += piece_words
    if current:
        chunks.append("\n".join(current))
    return chunks


def _overlap_start(previous: str, overlap_words: int, room: int) -> tuple[list[str], int]:
    """The previous chunk's last words, so a fact cut at a chunk boundary is whole in one of them."""
    tail = _sentence_aligned_tail(previous.split(), overlap_words)
    if not tail or len(tail) > room:
        return [], 0
    return [" ".join(tail)], len(tail)


def _sentence_aligned_tail(words: list[str], overlap_words: int) -> list[str]:
    """The last `overlap_words` words, starting at a sentence start when one falls inside them."""
    if overlap_words <= 0:
        return []
    tail = words[-overlap_words:]
    for start in range(1, len(tail)):
        if tail[start - 1].endswith((".", "!", "?")):
            return tail[start:]
    return tail
