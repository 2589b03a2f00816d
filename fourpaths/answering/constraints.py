"""Constraints on what a generated answer may say, as transformers LogitsProcessors."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

# Capitalised words that open ordinary sentences; any other capitalised word must come from the prompt.
SENTENCE_OPENERS = frozenset("I The It This That These A An Yes No Sorry There They We You Please If In On At For "
                             "Our Your Each Every All Not Step Answer Note To".split())
_LETTERS = re.compile(r"[^\W\d_]+")  # a run of letters, in any script
_TRAILING_LETTERS = re.compile(r"[^\W\d_]+$")


@dataclass(frozen=True)
class _Pieces:
    """Each token's decoded text, cut where a word can start: judged on decoded text, not the vocabulary's
    spelling (byte-level BPE spells a line break "Ċ", which str.isupper() takes for a capital)."""

    ids: list[int]
    spaced: list[bool]  # begins with whitespace: starts a new word
    run: list[str]  # the letters it begins with, after any whitespace ("" when it begins otherwise)


_pieces: dict[int, _Pieces] = {}
_lock = threading.Lock()


def _pieces_of(tokenizer) -> _Pieces:
    with _lock:
        key = id(tokenizer)
        if key not in _pieces:
            special = set(tokenizer.all_special_ids)
            ids = [i for i in range(len(tokenizer)) if i not in special]
            texts = tokenizer.batch_decode([[i] for i in ids])
            runs = []
            for text in texts:
                match = _LETTERS.match(text.lstrip())
                runs.append(match.group(0) if match else "")
            _pieces[key] = _Pieces(ids, [text[:1].isspace() for text in texts], runs)
        return _pieces[key]


def allowed_words(prompt: str) -> set[str]:
    """The capitalised words an answer may use: the prompt's own, and the usual sentence openers."""
    return {word for word in _LETTERS.findall(prompt) if word[:1].isupper()} | SENTENCE_OPENERS


class NoNewNames(LogitsProcessor):
    """Forbids writing a capitalised word that the prompt does not contain, so a small base cannot answer with a
    name it made up: what it may name is in the question (or the examples and instructions around it).

    Word by word, not token by token: a name can be spelt from pieces the prompt has ("L" of "L&D" + "ester"),
    so a capitalised word may only grow while it is still the beginning of one of the allowed words. (It may
    stop short of one: "Sor" of "Sorry" is no name, and forcing the word to its end made the base loop.)"""

    def __init__(self, tokenizer, prompt_ids: list[int]) -> None:
        self.tokenizer = tokenizer
        self.pieces = _pieces_of(tokenizer)
        words = allowed_words(tokenizer.decode(prompt_ids, skip_special_tokens=True))
        self.prefixes = {word[:end] for word in words for end in range(1, len(word) + 1)}
        starting = [(i, spaced) for i, spaced, run in zip(self.pieces.ids, self.pieces.spaced, self.pieces.run)
                    if run[:1].isupper() and run not in self.prefixes]
        self.banned_anywhere = torch.tensor([i for i, _ in starting], dtype=torch.long)
        self.banned_after_space = torch.tensor([i for i, spaced in starting if spaced], dtype=torch.long)
        self.continuing: dict[str, torch.Tensor] = {}
        self.answer_starts: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.answer_starts is None:  # the first call sees the prompt (or a decoder's start) and no answer yet
            self.answer_starts = input_ids.shape[1]
        scores = scores.clone()
        for row in range(input_ids.shape[0]):
            tail = self.tokenizer.decode(input_ids[row, self.answer_starts:][-8:], skip_special_tokens=True)
            word = _TRAILING_LETTERS.search(tail)
            if word is None:  # at a word's start: any piece that begins with letters begins a word
                scores[row, self.banned_anywhere] = float("-inf")
                continue
            scores[row, self.banned_after_space] = float("-inf")
            if word.group(0)[:1].isupper():  # inside a capitalised word: it may only grow into an allowed one
                scores[row, self._cannot_continue(word.group(0))] = float("-inf")
        return scores

    def _cannot_continue(self, word: str) -> torch.Tensor:
        if word not in self.continuing:
            self.continuing[word] = torch.tensor(
                [i for i, spaced, run in zip(self.pieces.ids, self.pieces.spaced, self.pieces.run)
                 if run and not spaced and word + run not in self.prefixes], dtype=torch.long)
        return self.continuing[word]


class OneSentence(LogitsProcessor):
    """Ends the answer with its first sentence: once the text ends in ".", "!" or "?", every piece that would
    open a new sentence (one that begins with whitespace or a line break) gives its probability to the end of
    the answer instead. A decimal point goes on ("£1.50"), a second sentence does not: the small base says
    what it knows, or that it does not know, and then tends to ramble into fragments."""

    def __init__(self, tokenizer, end_id: int) -> None:
        self.tokenizer = tokenizer
        pieces = _pieces_of(tokenizer)
        self.opening = torch.tensor([i for i, spaced in zip(pieces.ids, pieces.spaced) if spaced and i != end_id],
                                    dtype=torch.long)
        self.end_id = end_id
        self.answer_starts: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.answer_starts is None:
            self.answer_starts = input_ids.shape[1]
        scores = scores.clone()
        for row in range(input_ids.shape[0]):
            tail = self.tokenizer.decode(input_ids[row, self.answer_starts:][-4:], skip_special_tokens=True)
            if not tail.rstrip().endswith((".", "!", "?")) or tail != tail.rstrip():
                continue
            moved = torch.cat([scores[row, self.opening], scores[row, self.end_id:self.end_id + 1]])
            scores[row, self.end_id] = torch.logsumexp(moved, dim=0)
            scores[row, self.opening] = float("-inf")
        return scores
