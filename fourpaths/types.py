"""The values that cross the package's boundaries: a retrieved source, a finished answer's trace, the events of
one question's stream, and the one error a user can cause."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Union

from fourpaths.errors import FourpathsError

__all__ = ["CONFIDENCE_MEANINGS", "Source", "Trace", "WaitEvent", "TokenEvent", "DoneEvent", "ErrorEvent", "Event",
           "FourpathsError"]


# What a Trace's 0-1 confidence measures, for each way an answer is made (Trace.mode). Each is the model's own
# probability, not a calibrated chance of being right.
CONFIDENCE_MEANINGS = {
    "generated": "The mean probability the model gave each token it wrote (its softmax, before the prompt path's "
                 "constraints). High: the words came easily to it; not a chance of being right.",
    "answer head": "The answer head's softmax probability for the answer it picked, among the answers it was "
                   "taught. Below its threshold it says it was not taught this.",
    "extractive reader": "The reader's probability for its span: its start and end probabilities (softmax over the "
                         "passage window, 'no answer' included) multiplied, for the best span it found.",
}


@dataclass(frozen=True)
class Source:
    """A retrieved passage: the document it came from, its search score, and its text."""

    source: str
    score: float
    text: str


@dataclass(kw_only=True)
class Trace:
    """A finished answer and its anatomy, read by attribute by the pages, the CLI and the evaluation."""

    path: str
    title: str
    text: str
    mode: str  # how the answer was made: "generated", "extractive reader", "answer head"
    model: str  # where the answering model was loaded from
    input: str  # what the model was given: the final prompt, or the question
    sources: list[Source] = field(default_factory=list)
    ttft_ms: float = 0.0  # from the question to the first piece of the answer
    total_ms: float = 0.0
    new_tokens: int = 0  # generated tokens; 0 for a path that extracts or picks its answer
    tokens_per_s: float = 0.0
    score: float | None = None  # the reader's or the answer head's own score, where there is one
    answered: bool = True  # False when the path says it does not know
    facts: dict[str, object] = field(default_factory=dict)  # the rest of the anatomy, for display only
    confidence: float | None = None  # 0 to 1, as CONFIDENCE_MEANINGS[mode] says it is measured

    @property
    def confidence_meaning(self) -> str:
        return CONFIDENCE_MEANINGS.get(self.mode, "")

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class WaitEvent:
    """The question waits for other questions' answers: `ahead` of it (being answered or asked earlier). Sent each
    time that number changes while it waits, and once with 0 when its answering starts; never for a question
    answered at once."""

    ahead: int


@dataclass(frozen=True)
class TokenEvent:
    path: str
    text: str


@dataclass(frozen=True)
class DoneEvent:
    path: str
    trace: Trace


@dataclass(frozen=True)
class ErrorEvent:
    path: str
    message: str


Event = Union[WaitEvent, TokenEvent, DoneEvent, ErrorEvent]
