"""The extractive reader of the RAG path: it picks the answer as a span of one retrieved passage, or abstains.

An `AutoModelForQuestionAnswering` scores every token as a possible start and end of the answer. Each passage is
encoded on its own with the question (windows of at most MAX_LENGTH tokens, STRIDE tokens of overlap), so a span
never crosses a passage boundary, and all windows of all passages go through the model in one batch. The
span's characters come from the fast tokenizer's offsets, so the answer keeps the passage's own casing even
though the tokenizer lowercases.

No-answer works as in SQuAD 2.0: the score of the [CLS] token as both start and end is the "null" score. The
best span's margin (span score minus its window's null score) must reach the calibrated `threshold`, which the
recipe (fourpaths.training.reader) writes to reader_config.json beside the weights.

Read by sentence (`sentence_weight` > 0 in reader_config.json, and an embedder given): each sentence of the
passages is read on its own, and a span's decision score is its margin plus `sentence_weight` times its
sentence's cosine with the question. On dev, a sentence alone keeps the reader from a confident span in a
neighbouring sentence, and the cosine prefers the sentence about the question (docs/design.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from fourpaths.answering.engine import check_vocabulary, check_weights
from fourpaths.errors import FourpathsError, QuestionTooLong, one_line
from fourpaths.retrieval.sentences import sentence_spans

CONFIG_FILE = "reader_config.json"
MAX_LENGTH = 384
STRIDE = 128
MAX_ANSWER_TOKENS = 16  # reference answers run to 12 tokens; measured on the train questions: 14-18 best
SENTENCE_WEIGHT = 20.0  # the recipe's: margin + 20 x cosine chose the right sentence most often on dev (of 0-40)
SENTENCES_READ = 6  # the sentences nearest the question: on dev as right as reading all 11 or so, at half the cost


@dataclass(frozen=True)
class Span:
    """The reader's best span. `passage` indexes the passages given to `read` (None when there was nothing to
    read); start/end are character offsets into that passage, so passages[passage][start:end] == text. The span
    is reported even when `answered` is False, so a caller can show what the reader would have said."""

    text: str
    passage: int | None
    start: int
    end: int
    score: float
    null_score: float
    answered: bool
    probability: float = 0.0  # start x end probability (softmax over the window, [CLS] included)
    bonus: float = 0.0  # read by sentence: sentence_weight x the sentence's cosine with the question

    @property
    def margin(self) -> float:
        return self.score - self.null_score

    @property
    def decision(self) -> float:
        """What the threshold is compared with, and what chooses among spans."""
        return self.margin + self.bonus


NO_SPAN = Span("", None, 0, 0, float("-inf"), 0.0, False)


class Reader:
    def __init__(self, model, tokenizer, threshold: float = 0.0, max_answer_tokens: int = MAX_ANSWER_TOKENS,
                 location: str = "", sentence_weight: float = 0.0) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.threshold = float(threshold)
        self.max_answer_tokens = max_answer_tokens
        self.location = location
        self.sentence_weight = float(sentence_weight)

    @classmethod
    def load(cls, location: str) -> "Reader":
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        folder = Path(location)
        if not folder.is_dir():
            raise FourpathsError(f"reader folder {location} not found (train it with `fourpaths train reader`)")
        if not (folder / "config.json").is_file():
            raise FourpathsError(f"reader folder {location} has no config.json: not a saved model")
        settings = _read_config(folder)
        check_weights(str(folder), "the reader")
        try:
            model = AutoModelForQuestionAnswering.from_pretrained(str(folder), use_safetensors=True,
                                                                  dtype=torch.float32)  # shipped as float16
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except Exception as error:  # transformers raises OSError, ValueError, safetensors errors...
            raise FourpathsError(f"cannot load the reader in {location}: {one_line(error)}") from None
        if not getattr(tokenizer, "is_fast", False):
            raise FourpathsError(f"reader folder {location} needs a fast tokenizer (tokenizer.json) for offsets")
        check_vocabulary(tokenizer, model, str(folder), "the reader")
        return cls(model, tokenizer, settings.get("threshold", 0.0),
                   int(settings.get("max_answer_tokens", MAX_ANSWER_TOKENS)), str(folder),
                   float(settings.get("sentence_weight", 0.0)))

    def question_limit(self) -> int:
        """The longest question, in this reader's tokens, that still leaves each window more passage tokens than
        the stride (fewer, and the tokenizer cannot cut the passage into windows at all)."""
        return MAX_LENGTH - STRIDE - self.tokenizer.num_special_tokens_to_add(pair=True) - 1

    def check_question(self, question: str) -> None:
        count = len(self.tokenizer(question, add_special_tokens=False, split_special_tokens=True,
                                   verbose=False)["input_ids"])
        if count > self.question_limit():
            raise QuestionTooLong(f"the question is {count:,} tokens for the reader {self.location}, which reads "
                                  f"questions of at most {self.question_limit():,}: shorten it")

    def encode(self, question: str, passages: list[str]):
        """One row per window of each passage: the question first, the passage second."""
        # split_special_tokens: a literal "[SEP]" in a document or question is text, not a separator
        return self.tokenizer([question] * len(passages), passages, truncation="only_second",
                              max_length=MAX_LENGTH, stride=STRIDE, return_overflowing_tokens=True,
                              return_offsets_mapping=True, padding=True, return_tensors="pt",
                              split_special_tokens=True)

    @torch.inference_mode()
    def read(self, question: str, passages: list[str], embed: Callable | None = None) -> Span:
        """The best span by decision score, answered when it reaches the threshold. `embed` (texts -> L2-normalised
        vectors, the RAG path's embedder) lets a reader with a sentence_weight read sentence by sentence."""
        self.check_question(question)
        if self.sentence_weight and embed is not None:
            candidates = self.sentence_candidates(question, passages, embed)
        else:
            candidates = self.candidates(question, passages)
        if not candidates:
            return NO_SPAN
        best = max(candidates, key=lambda span: span.decision)
        return replace(best, answered=best.decision >= self.threshold)

    def sentence_candidates(self, question: str, passages: list[str], embed: Callable) -> list[Span]:
        """The best span of each of the SENTENCES_READ sentences nearest the question, each read on its own (a
        sentence repeated by overlapping passages once, in its best-ranked passage), with its bonus; offsets
        point into the passages."""
        pieces, seen = [], set()
        for number, passage in enumerate(passages):
            for start, end in sentence_spans(passage):
                if passage[start:end] not in seen:
                    seen.add(passage[start:end])
                    pieces.append((number, start, end))
        if not pieces:
            return []
        texts = [passages[number][start:end] for number, start, end in pieces]
        vectors = embed([question] + texts)
        cosines = (vectors[1:] @ vectors[0]).tolist()
        read = sorted(sorted(range(len(texts)), key=lambda i: -cosines[i])[:SENTENCES_READ])
        spans = []
        for span in self.candidates(question, [texts[i] for i in read]):
            chosen = read[span.passage]
            number, start, _ = pieces[chosen]
            spans.append(replace(span, passage=number, start=start + span.start, end=start + span.end,
                                 bonus=self.sentence_weight * float(cosines[chosen])))
        return spans

    @torch.inference_mode()
    def candidates(self, question: str, passages: list[str]) -> list[Span]:
        """The best span of each window (answered left False): what `read` chooses among."""
        if not passages:
            return []
        encoded = self.encode(question, passages)
        owners = encoded.pop("overflow_to_sample_mapping").tolist()
        offsets = encoded.pop("offset_mapping").tolist()
        inputs = {name: encoded[name] for name in ("input_ids", "attention_mask", "token_type_ids") if name in encoded}
        output = self.model(**inputs)
        starts, ends = output.start_logits.float(), output.end_logits.float()
        spans = []
        for row, passage in enumerate(owners):
            context = torch.tensor([sid == 1 for sid in encoded.sequence_ids(row)])
            span = self._best_in_window(starts[row], ends[row], context)
            if span is None:
                continue
            first, last, score, probability = span
            start, end = offsets[row][first][0], offsets[row][last][1]
            null = float(starts[row, 0] + ends[row, 0])
            spans.append(Span(passages[passage][start:end], passage, start, end, score, null, False, probability))
        return spans

    def _best_in_window(self, start_logits, end_logits, context):
        """(first token, last token, score, probability) of the best span inside the passage's tokens of one window;
        the probability is its start's times its end's, each a softmax over [CLS] and the passage's tokens."""
        positions = context.nonzero().flatten()
        if len(positions) == 0:
            return None
        low, high = int(positions[0]), int(positions[-1]) + 1
        start, end = start_logits[low:high], end_logits[low:high]
        scores = start[:, None] + end[None, :]
        n = scores.shape[0]
        allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(self.max_answer_tokens - 1)
        scores = scores.masked_fill(~allowed, float("-inf"))
        flat = int(scores.argmax())
        first, last = divmod(flat, n)
        candidates = torch.cat([torch.tensor([0]), positions])  # [CLS] (no answer) and the passage's tokens
        start_p = torch.softmax(start_logits[candidates], dim=0)[1 + first]
        end_p = torch.softmax(end_logits[candidates], dim=0)[1 + last]
        return low + first, low + last, float(scores[first, last]), float(start_p * end_p)


def _read_config(folder: Path) -> dict:
    path = folder / CONFIG_FILE
    if not path.exists():
        return {}  # a plain question-answering model: SQuAD 2.0's threshold of 0
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        float(settings.get("threshold", 0.0))
        float(settings.get("sentence_weight", 0.0))
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise FourpathsError(f"reader folder {folder}: {CONFIG_FILE} is unreadable ({error})") from None
    return settings
