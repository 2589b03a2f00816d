"""What one question's answers stream as: a token, a finished answer with its anatomy, or an error, each naming
its path. Plain dataclasses, so they cross from a worker process to the app unchanged (fourpaths.lanes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Union

from fourpaths.paths import Source


@dataclass
class Trace:
    """A finished answer and its anatomy: what the model saw, what it was given, how long it took."""

    path: str
    title: str
    text: str
    prompt: str
    sources: list[Source]
    ttft_ms: float
    total_ms: float
    new_tokens: int
    tokens_per_s: float
    facts: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["sources"] = [asdict(source) for source in self.sources]
        return data


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


Event = Union[TokenEvent, DoneEvent, ErrorEvent]
