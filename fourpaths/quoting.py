"""Quote-only decoding for the RAG path: every answer token continues a passage of the prompt.

Why: a small base that has not learnt to read writes values of the right shape that are not the passage's
(see the README's measured figures). Limiting its choices to spans of the passages keeps the model
choosing (which sentence to start, which way to go where sentences share words, when to stop) but makes
every answer grounded: it can only say what a passage says. A quote starts at the beginning of a passage's
text (after its "Title > Section:" heading) or of one of its sentences or list items, and may stop where a
sentence ends, once the quote holds the sentence it started with and as many after it as the caller asks.
Which sentences a quote may start at can be narrowed further (`keep_starts`): the RAG path keeps the
evidence sentences the embedder ranks best (see fourpaths.evidence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from fourpaths.errors import FourpathsError

# Where a quote may begin inside a passage's text: after a sentence's end, or at a list item.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\s+(?=- )|\s+(?=\d+\.\s)")
_LIST_MARK = re.compile(r"(?:- |\d+\.\s)")


@dataclass(frozen=True)
class Sentence:
    """A sentence a quote may start at: its first token in the prompt, its passage, heading and text."""

    start: int
    passage: int
    heading: str
    text: str

    @property
    def reading(self) -> str:
        """The sentence as the evidence ranking reads it: with its chunk's heading, which names the topic."""
        return f"{self.heading}{self.text}"


class QuoteConstraint:
    """The tokens an answer may take next: an optional citation "[n]", then a quote from the passages.

    Single use: it keeps the state of one answer. `cursors` are prompt positions of the token each matching
    place would copy next. Before the quote begins, any start may be chosen, by its own token or by the same
    word without the leading space a byte-level tokenizer attaches (an answer's first word has none). A
    citation, when the model writes one, limits the quote to the passage it names.
    """

    def __init__(self, prompt_ids: Sequence[int], starts: set[int], ends: set[int], inside: set[int],
                 passage_of: dict[int, int], citations: dict[int, list[int]],
                 aliases: dict[int, set[int]], prompt: str, offsets: Sequence[tuple[int, int]],
                 earliest_stop: dict[int, int], sentences: list[Sentence], cite_first: bool = False) -> None:
        self.ids = list(prompt_ids)
        self.cite_first = cite_first  # the answer must open with a citation "[n]" before its quote
        self.starts, self.ends, self.inside, self.passage_of = starts, ends, inside, passage_of
        self.citations, self.aliases = citations, aliases  # aliases: token -> starts it may begin
        self.prompt, self.offsets = prompt, list(offsets)  # to show the quote in the document's characters
        self.earliest_stop = earliest_stop  # start -> the first position a quote from it may stop at
        self.sentences = sentences  # one per start, for choosing which starts to keep
        self.cited: int | None = None
        self.citing: dict[int, list[int]] | None = None  # numbers still possible -> their remaining ids
        self.cursors: set[int] | None = None
        self.quoted = 0  # tokens quoted so far

    def allowed_tokens(self) -> set[int]:
        if self.citing is not None:
            return {rest[0] for rest in self.citing.values()}
        if self.cursors is None:
            if self.cite_first and self.cited is None:
                return {ids[0] for ids in self.citations.values()}
            starts = self._open_starts()
            allowed = {self.ids[start] for start in starts}
            allowed |= {alias for alias, begins in self.aliases.items() if begins & starts}
            if self.cited is None:
                allowed |= {ids[0] for ids in self.citations.values()}
            return allowed
        return {self.ids[cursor] for cursor in self.cursors if cursor in self.inside}

    def may_stop(self) -> bool:
        """Stopping is allowed where a sentence of some matching place ends, once that place has quoted its
        least number of sentences, or where no place can go on (every cursor has left its passage); read off
        the cursors, since the loop asks this beside allowed_tokens(). All cursors began `quoted` tokens ago."""
        if self.cursors is None:
            return False
        if not self.cursors & self.inside:
            return True
        return any(cursor in self.ends and cursor >= self.earliest_stop[cursor - self.quoted] for cursor in self.cursors)

    def keep_starts(self, starts: set[int]) -> None:
        """Let a quote begin only at `starts` (a subset of the sentence starts), and cite only their passages."""
        self.starts = self.starts & set(starts)
        passages = {self.passage_of[start] for start in self.starts}
        self.citations = {number: ids for number, ids in self.citations.items() if number in passages}

    def advance(self, token_id: int) -> None:
        if self.citing is not None:
            self._advance_citation(token_id)
        elif self.cursors is None and self.cited is None and any(ids[0] == token_id for ids in self.citations.values()):
            self.citing = {number: ids for number, ids in self.citations.items() if ids[0] == token_id}
            self._advance_citation(token_id)
        elif self.cursors is None:
            starts = self._open_starts()
            begun = {start for start in starts if self.ids[start] == token_id} | (self.aliases.get(token_id, set()) & starts)
            self.cursors = {start + 1 for start in begun}
            self.quoted = 1
        else:
            self.cursors = {c + 1 for c in self.cursors if c in self.inside and self.ids[c] == token_id}
            self.quoted += 1

    def _advance_citation(self, token_id: int) -> None:
        self.citing = {number: ids[1:] for number, ids in self.citing.items() if ids[0] == token_id}
        finished = [number for number, rest in self.citing.items() if not rest]
        if finished:
            self.cited, self.citing = finished[0], None

    def _open_starts(self) -> set[int]:
        if self.cited is None:
            return self.starts
        return {start for start in self.starts if self.passage_of[start] == self.cited}

    def answer_text(self) -> str:
        """The answer so far as the document writes it: the citation, then the quoted characters of the prompt.

        Why not the tokenizer's decoding: an uncased WordPiece base decodes "£1,200" as "£1, 200" in lower
        case; the quote is the passage's own text, so it is shown (and scored) as the passage has it. While a
        citation is half written, nothing is shown yet."""
        citation = f"[{self.cited}]" if self.cited is not None else ""
        if not self.cursors:
            return citation
        end = min(self.cursors)  # where the same tokens stand in two places, the first one's characters
        first_char, last_char = self.offsets[end - self.quoted][0], self.offsets[end - 1][1]
        return f"{citation} {self.prompt[first_char:last_char].strip()}".strip()

    def quoted_passages(self) -> list[int]:
        """The numbers of the passages the quote so far can come from (several when their text repeats)."""
        return sorted({self.passage_of[cursor - 1] for cursor in self.cursors or ()})


def quote_constraint(tokenizer, prompt: str, prompt_ids: Sequence[int], passages,
                     min_sentences: int = 1, cite_first: bool = False) -> QuoteConstraint:
    """The constraint for `prompt` (rendered by prompts.render), whose passage lines are `passages`. A quote
    holds at least `min_sentences` sentences, or runs to its passage's end when the passage has fewer; with
    `cite_first`, the answer opens with the number of the passage it quotes."""
    offsets = _token_offsets(tokenizer, prompt, prompt_ids)
    starts, ends, inside, passage_of = set(), set(), set(), {}
    earliest_stop: dict[int, int] = {}
    sentences: list[Sentence] = []
    search_from = prompt.find("Passages:")
    for passage in passages:
        line_at = prompt.find(f"[{passage.number}] ({passage.source}) {passage.text}", search_from)
        if line_at < 0:
            raise FourpathsError(f"passage [{passage.number}] is not in the prompt as given")
        text_at = line_at + len(f"[{passage.number}] ({passage.source}) ")
        body_at = text_at + heading_length(passage.text)
        body_end = text_at + len(passage.text)
        search_from = body_end
        first, last = _first_token_from(offsets, body_at), _first_token_from(offsets, body_end)
        inside.update(range(first, last))
        passage_of.update({position: passage.number for position in range(first, last)})
        spans = sentence_spans(passage.text)
        # a sentence a quote may stop after ends where the next one starts, or where the passage ends
        passage_ends = {last} | {_first_token_from(offsets, text_at + span_end) for _, span_end in spans}
        heading = passage.text[:heading_length(passage.text)]
        for span_at, span_end in spans:
            start = _first_token_from(offsets, text_at + span_at)
            if start >= last or start in starts:
                continue
            after = sorted(end for end in passage_ends if end > start)
            earliest_stop[start] = after[min(max(min_sentences, 1), len(after)) - 1]
            starts.add(start)
            sentences.append(Sentence(start, passage.number, heading, passage.text[span_at:span_end].strip()))
        ends.update(passage_ends)
    if not starts:
        raise FourpathsError("no passage text to quote from")
    citations = {p.number: tokenizer(f"[{p.number}]", add_special_tokens=False)["input_ids"] for p in passages}
    return QuoteConstraint(prompt_ids, starts, ends, inside, passage_of, citations,
                           _unspaced_aliases(tokenizer, prompt_ids, starts), prompt, offsets, earliest_stop, sentences,
                           cite_first)


def _sentence_starts(prompt: str, body_at: int, body_end: int) -> list[tuple[int, bool]]:
    """Where each sentence or list item of a passage's text begins, and whether a quote may stop just before it.

    It may not where the words before are only a list number ("are: 1.") or end with a colon: both announce
    what comes next, so a quote that stopped there would leave out the very thing it introduced."""
    found = [(body_at, False)]
    segment_at = body_at
    for match in _SENTENCE_BREAK.finditer(prompt, body_at, body_end):
        segment = prompt[segment_at:match.start()].strip()
        found.append((match.end(), not (segment.endswith(":") or _LIST_MARK.fullmatch(segment + " "))))
        segment_at = match.end()
    return found


def _unspaced_aliases(tokenizer, prompt_ids: Sequence[int], starts: set[int]) -> dict[int, set[int]]:
    """For each start whose token is a word with a leading space, that word's own token without the space."""
    aliases: dict[int, set[int]] = {}
    for start in starts:
        text = tokenizer.decode([prompt_ids[start]])
        if text.startswith(" ") and text.strip():
            bare = tokenizer(text.strip(), add_special_tokens=False)["input_ids"]
            if len(bare) == 1 and bare[0] != prompt_ids[start]:
                aliases.setdefault(bare[0], set()).add(start)
    return aliases


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans, within a passage's text, of the sentences a quote may start at: each from its first
    word (after any list mark) to where a sentence that a quote may stop after ends, or the text's end.

    The one segmentation both the quote constraint and the search index use, so the index's stored sentence
    vectors (retrieval.SearchIndex.sentence_vectors) are found by the very text the RAG path ranks."""
    found = _sentence_starts(text, heading_length(text), len(text))
    stops = [char_at for char_at, ends_a_sentence in found if ends_a_sentence] + [len(text)]
    spans = []
    for char_at, _ in found:
        item = _LIST_MARK.match(text, char_at)  # a list item is quoted from its words, not its dash
        span_at = item.end() if item else char_at
        if span_at < len(text) and text[span_at:].strip():
            spans.append((span_at, next(stop for stop in stops if stop > span_at)))
    return spans


def heading_length(text: str) -> int:
    """Characters of the "Title > Section: " prefix a chunk carries, or 0: a quote starts after it.

    The heading ends at the first ": " after its first " > ", since a title may hold a colon of its own
    ("Remote Work Policy Revision: Two Home Days > Summary: ...")."""
    joint = text.find(" > ")
    colon = text.find(": ", joint) if joint > 0 else -1
    return colon + 2 if colon > 0 else 0


def _token_offsets(tokenizer, prompt: str, prompt_ids: Sequence[int]) -> list[tuple[int, int]]:
    if not getattr(tokenizer, "is_fast", False):
        raise FourpathsError("quote-only answers need a fast tokenizer (character offsets)")
    encoded = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    if list(encoded["input_ids"]) != list(prompt_ids):
        raise FourpathsError("the prompt's ids do not match its text")
    return [tuple(pair) for pair in encoded["offset_mapping"]]


def _first_token_from(offsets: list[tuple[int, int]], char_at: int) -> int:
    """The first token that ends after `char_at`: the one holding that character, or the next one."""
    for index, (_, end) in enumerate(offsets):
        if end > char_at:
            return index
    return len(offsets)


class QuoteDecoder:
    """Streams a quote-only answer in the document's own characters (see QuoteConstraint.answer_text).

    It reads the constraint, which the decode loop advances before each token is reported."""

    def __init__(self, constraint: QuoteConstraint) -> None:
        self.constraint = constraint
        self.emitted = ""

    def add(self, token_id: int) -> str:  # noqa: ARG002 - the constraint has already taken the token
        text = self.constraint.answer_text()
        if not text.startswith(self.emitted):
            return ""  # the same tokens resolved to another place (another case); the final text is exact
        piece, self.emitted = text[len(self.emitted):], text
        return piece

    @property
    def text(self) -> str:
        return self.constraint.answer_text()
