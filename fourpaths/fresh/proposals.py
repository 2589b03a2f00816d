"""Question/answer pairs proposed from a document's sentences, for the presenter to check and teach."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fourpaths.measure.scoring import normalise
from fourpaths.retrieval.corpus import Document

MAX_PAIRS = 50
MAX_ANSWER_CHARS = 200

@dataclass(frozen=True)
class Pair:
    """A question/answer pair to teach; the answer must occur in the document `source`."""

    question: str
    answer: str
    source: str



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
