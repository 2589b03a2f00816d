"""`fourpaths corpus check`: validate the corpus and its question sets against every rule.

All problems are collected and reported together, so one run tells a contributor everything to fix.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from fourpaths.retrieval.corpus import (
    COLLECTIONS,
    NATURAL_SPLITS,
    SPLITS,
    UNANSWERABLE_SPLITS,
    Document,
    QAItem,
    QuestionLineError,
    iter_question_lines,
    load_collection,
    normalise_for_match,
    parse_question_line,
    question_file,
)

MIN_DOCS = 30
MIN_UPDATES = 8
MIN_DOCS_TOTAL_WORDS = 25_000
MIN_DOCUMENT_WORDS = 400
MAX_DOCUMENT_WORDS = 1_500
MIN_TRAIN_QUESTIONS = 300
MIN_EVAL_SEEN_QUESTIONS = 100
MIN_EVAL_UNSEEN_QUESTIONS = 100
MIN_EVAL_UNANSWERABLE_QUESTIONS = 80  # 60 about Quillmoor that no document answers, 20 off-topic or instructions
MIN_EVAL_NATURAL_QUESTIONS = 150  # at least 50 on docs/ facts and 50 on updates/ facts
MIN_DEV_QUESTIONS = 60
MIN_NATURAL_PER_KIND = 50
UNANSWERABLE_ID_PREFIX = "na-"
MAX_ANSWER_WORDS = 8
MAX_QUESTION_CHARS = 500

# Which collection each split may cite: eval_unseen exists to ask about what training never saw.
# eval_unanswerable cites nothing: no document answers its questions.
SPLIT_COLLECTION = {"train": "docs", "eval_seen": "docs", "eval_unseen": "updates"}


@dataclass(frozen=True)
class Limits:
    """The size rules; tests shrink them to keep fixtures small, the CLI uses the defaults."""

    min_docs: int = MIN_DOCS
    min_updates: int = MIN_UPDATES
    min_total_words: int = MIN_DOCS_TOTAL_WORDS
    min_document_words: int = MIN_DOCUMENT_WORDS
    max_document_words: int = MAX_DOCUMENT_WORDS
    min_train: int = MIN_TRAIN_QUESTIONS
    min_eval_seen: int = MIN_EVAL_SEEN_QUESTIONS
    min_eval_unseen: int = MIN_EVAL_UNSEEN_QUESTIONS
    min_eval_unanswerable: int = MIN_EVAL_UNANSWERABLE_QUESTIONS
    min_eval_natural: int = MIN_EVAL_NATURAL_QUESTIONS
    min_dev: int = MIN_DEV_QUESTIONS
    min_natural_per_kind: int = MIN_NATURAL_PER_KIND
    max_answer_words: int = MAX_ANSWER_WORDS
    max_question_chars: int = MAX_QUESTION_CHARS

    def min_questions(self, split: str) -> int:
        return {"train": self.min_train, "eval_seen": self.min_eval_seen, "eval_unseen": self.min_eval_unseen,
                "eval_unanswerable": self.min_eval_unanswerable, "eval_natural": self.min_eval_natural,
                "dev": self.min_dev}[split]

    def min_documents(self, collection: str) -> int:
        return {"docs": self.min_docs, "updates": self.min_updates}[collection]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    rule: str
    message: str


def format_problem(problem: Problem) -> str:
    where = problem.file if problem.line is None else f"{problem.file}:{problem.line}"
    return f"{where}: [{problem.rule}] {problem.message}"


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    documents: dict[str, list[Document]] = field(default_factory=dict)  # by collection
    questions: dict[str, list[QAItem]] = field(default_factory=dict)  # by split

    def summary(self) -> str:
        parts = []
        for collection in COLLECTIONS:
            documents = self.documents.get(collection, [])
            words = sum(document.word_count for document in documents)
            parts.append(f"{collection}: {len(documents)} documents, {words:,} words")
        for split in SPLITS:
            parts.append(f"{split}: {len(self.questions.get(split, []))} questions")
        verdict = "OK" if not self.problems else f"{len(self.problems)} problem(s)"
        return "; ".join(parts) + f" -> {verdict}"


def check_corpus(root: str | Path, limits: Limits | None = None) -> list[Problem]:
    return inspect_corpus(root, limits).problems


def inspect_corpus(root: str | Path, limits: Limits | None = None) -> CheckReport:
    checker = _CorpusChecker(Path(root), limits or Limits())
    return checker.run()


def run_check(root: str | Path, limits: Limits | None = None) -> int:
    """Print each problem on stderr and a summary on stdout; 0 when the corpus passes, 1 otherwise."""
    report = inspect_corpus(root, limits)
    for problem in report.problems:
        print(format_problem(problem), file=sys.stderr)
    print(report.summary())
    return 1 if report.problems else 0


class _CorpusChecker:
    def __init__(self, root: Path, limits: Limits):
        self.root = root
        self.limits = limits
        self.report = CheckReport()
        self.documents_by_source: dict[str, Document] = {}

    def run(self) -> CheckReport:
        if not self.root.is_dir():
            self._problem(self.root, None, "missing-file", "corpus folder not found")
            return self.report
        for collection in COLLECTIONS:
            self._check_collection(collection)
        self._check_docs_word_total()
        for split in SPLITS:
            self._check_split(split)
        self._check_unique_ids()
        self._check_eval_seen_against_train()
        self._check_unanswerable_questions_are_new()
        self._check_natural_sets()
        return self.report

    def _label(self, path: Path) -> str:
        return path.as_posix()

    def _problem(self, path: Path, line: int | None, rule: str, message: str) -> None:
        self.report.problems.append(Problem(self._label(path), line, rule, message))

    # --- documents ---------------------------------------------------------

    def _check_collection(self, collection: str) -> None:
        folder = self.root / collection
        if not folder.is_dir():
            self._problem(folder, None, "missing-file", f"folder {collection}/ not found")
            return
        documents = load_collection(folder, collection)
        for document in documents:
            self.documents_by_source[document.source] = document
            self._check_document_length(document)
        self.report.documents[collection] = documents
        needed = self.limits.min_documents(collection)
        if len(documents) < needed:
            message = f"{len(documents)} documents in {collection}/, need at least {needed}"
            self._problem(folder, None, "too-few-documents", message)

    def _check_document_length(self, document: Document) -> None:
        words = document.word_count
        if words == 0:
            self._problem(document.path, None, "empty-file", "document is empty")
            return
        low, high = self.limits.min_document_words, self.limits.max_document_words
        if not low <= words <= high:
            message = f"document has {words} words; each document needs {low}..{high}"
            self._problem(document.path, None, "document-length", message)

    def _check_docs_word_total(self) -> None:
        documents = self.report.documents.get("docs")
        if documents is None:
            return  # the missing folder is already reported
        total = sum(document.word_count for document in documents)
        if total < self.limits.min_total_words:
            message = f"docs/ has {total:,} words in all, need at least {self.limits.min_total_words:,}"
            self._problem(self.root / "docs", None, "too-few-words", message)

    # --- questions ---------------------------------------------------------

    def _check_split(self, split: str) -> None:
        path = question_file(self.root, split)
        if not path.is_file():
            if split not in NATURAL_SPLITS:  # the hand-written sets are checked where a corpus has them
                self._problem(path, None, "missing-file", f"question file qa/{split}.jsonl not found")
            return
        items = []
        for line_number, raw in iter_question_lines(path):
            try:
                item = parse_question_line(raw, split, line_number)
            except QuestionLineError as error:
                self._problem(path, line_number, error.rule, str(error))
                continue
            items.append(item)
            self._check_item(path, item)
        self.report.questions[split] = items
        self._check_question_count(path, split, items)

    def _check_question_count(self, path: Path, split: str, items: list[QAItem]) -> None:
        if not any(True for _ in iter_question_lines(path)):
            self._problem(path, None, "empty-file", "question file has no lines")
            return
        needed = self.limits.min_questions(split)
        if len(items) < needed:
            message = f"{len(items)} valid questions in {split}, need at least {needed}"
            self._problem(path, None, "too-few-questions", message)

    def _check_item(self, path: Path, item: QAItem) -> None:
        if len(item.question) > self.limits.max_question_chars:
            message = f"question is {len(item.question)} characters, at most {self.limits.max_question_chars}"
            self._problem(path, item.line, "question-length", message)
        answer_words = len(item.answer.split())
        if answer_words > self.limits.max_answer_words:
            message = f"answer has {answer_words} words, at most {self.limits.max_answer_words}"
            self._problem(path, item.line, "answer-length", message)
        if item.split in UNANSWERABLE_SPLITS:
            self._check_unanswerable(path, item)
        elif item.kind == "none":
            self._check_unanswerable(path, item, id_prefix=f"{item.split}-")
        else:
            self._check_source(path, item)

    def _check_unanswerable(self, path: Path, item: QAItem, id_prefix: str = UNANSWERABLE_ID_PREFIX) -> None:
        """No document answers these questions, so they carry no answer and cite no source."""
        if item.answer.strip():
            message = f"{item.split} questions have an empty answer, got {item.answer!r}"
            self._problem(path, item.line, "unanswerable-has-answer", message)
        if item.source.strip():
            message = f"{item.split} questions cite no document, got source {item.source!r}"
            self._problem(path, item.line, "unanswerable-has-source", message)
        if not item.id.startswith(id_prefix):
            message = f"{item.split} ids start with {id_prefix!r}, got {item.id!r}"
            self._problem(path, item.line, "id-prefix", message)

    def _check_source(self, path: Path, item: QAItem) -> None:
        expected = item.kind or SPLIT_COLLECTION[item.split]
        if not item.source.startswith(f"{expected}/"):
            message = f"{item.split} must cite {expected}/ documents, got source {item.source!r}"
            self._problem(path, item.line, "wrong-collection", message)
            return
        document = self.documents_by_source.get(item.source)
        if document is None:
            self._problem(path, item.line, "unknown-source", f"source {item.source!r} is not a corpus document")
            return
        if normalise_for_match(item.answer) not in normalise_for_match(document.text):
            message = f"answer {item.answer!r} does not occur in {item.source}"
            self._problem(path, item.line, "answer-not-in-source", message)

    # --- across files ------------------------------------------------------

    def _check_unique_ids(self) -> None:
        first_seen: dict[str, tuple[Path, int]] = {}
        for split in SPLITS:
            path = question_file(self.root, split)
            for item in self.report.questions.get(split, []):
                if item.id in first_seen:
                    where, line = first_seen[item.id]
                    message = f"id {item.id!r} already used at {self._label(where)}:{line}"
                    self._problem(path, item.line, "duplicate-id", message)
                else:
                    first_seen[item.id] = (path, item.line)

    def _check_eval_seen_against_train(self) -> None:
        """eval_seen re-asks trained facts in new words: same fact as train, never the same question."""
        train = self.report.questions.get("train", [])
        facts = {(item.source, normalise_for_match(item.answer)) for item in train}
        train_questions = {normalise_for_match(item.question): item.line for item in train}
        path = question_file(self.root, "eval_seen")
        train_label = self._label(question_file(self.root, "train"))
        for item in self.report.questions.get("eval_seen", []):
            copied_line = train_questions.get(normalise_for_match(item.question))
            if copied_line is not None:
                message = f"question is the same text as {train_label}:{copied_line}; rephrase it"
                self._problem(path, item.line, "eval-seen-copies-train", message)
            if (item.source, normalise_for_match(item.answer)) not in facts:
                message = f"no train question has source {item.source!r} and answer {item.answer!r}"
                self._problem(path, item.line, "eval-seen-not-in-train", message)

    def _check_natural_sets(self) -> None:
        """The hand-written sets: `trained` says truly whether train.jsonl teaches the fact (the same source, one
        answer within the other), each kind has enough questions, and dev shares no fact with eval_natural."""
        taught: dict[str, list[str]] = {}
        for item in self.report.questions.get("train", []):
            taught.setdefault(item.source, []).append(normalise_for_match(item.answer))
        for split in NATURAL_SPLITS:
            path = question_file(self.root, split)
            items = self.report.questions.get(split, [])
            for item in items:
                answer = normalise_for_match(item.answer)
                teaches = item.kind == "docs" and any(answer in other or other in answer
                                                      for other in taught.get(item.source, []))
                if item.trained != teaches:
                    message = (f"trained is {str(item.trained).lower()}, but train.jsonl "
                               f"{'teaches' if teaches else 'does not teach'} {item.answer!r} from {item.source}")
                    self._problem(path, item.line, "wrong-trained-flag", message)
            if split == "eval_natural" and items:
                for kind in ("docs", "updates"):
                    count = sum(item.kind == kind for item in items)
                    if count < self.limits.min_natural_per_kind:
                        message = (f"{count} {kind} questions in {split}, "
                                   f"need at least {self.limits.min_natural_per_kind}")
                        self._problem(path, None, "too-few-questions", message)
        evaluated = {(item.source, normalise_for_match(item.answer)): item.line
                     for item in self.report.questions.get("eval_natural", []) if item.answer}
        natural_path = self._label(question_file(self.root, "eval_natural"))
        for item in self.report.questions.get("dev", []):
            line = evaluated.get((item.source, normalise_for_match(item.answer)))
            if item.answer and line is not None:
                message = f"dev asks the same fact as {natural_path}:{line}; tune on other facts than those reported"
                self._problem(question_file(self.root, "dev"), item.line, "dev-overlaps-eval", message)

    def _check_unanswerable_questions_are_new(self) -> None:
        """An unanswerable question never repeats a question of any set (case and whitespace ignored)."""
        seen: dict[str, tuple[Path, int]] = {}
        new_splits = UNANSWERABLE_SPLITS + NATURAL_SPLITS  # written apart from train: they repeat nothing
        for split in SPLITS:
            if split in new_splits:
                continue
            path = question_file(self.root, split)
            for item in self.report.questions.get(split, []):
                seen.setdefault(normalise_for_match(item.question), (path, item.line))
        for split in new_splits:
            path = question_file(self.root, split)
            for item in self.report.questions.get(split, []):
                key = normalise_for_match(item.question)
                if key in seen:
                    where, line = seen[key]
                    message = f"question is the same text as {self._label(where)}:{line}"
                    self._problem(path, item.line, "duplicate-question", message)
                else:
                    seen[key] = (path, item.line)
