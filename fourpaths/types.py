"""The values that cross the package's boundaries: a retrieved source, a finished answer's trace, the events of
one question's stream, and the one error a user can cause."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Union

from fourpaths.errors import FourpathsError

__all__ = ["Source", "Trace", "WaitEvent", "TokenEvent", "DoneEvent", "ErrorEvent", "Event", "FourpathsError"]


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
    score: float | None = None  # the reader's or the answer head's confidence, where there is one
    answered: bool = True  # False when the path says it does not know
    facts: dict[str, object] = field(default_factory=dict)  # the rest of the anatomy, for display only
    token_ids: list[int] = field(default_factory=list)  # the generated ids (an endpoint gives them when it can)

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
