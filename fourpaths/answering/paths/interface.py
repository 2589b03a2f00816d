"""The one interface the four ways of answering share, and what they hand the pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fourpaths.config import Settings
from fourpaths.types import Source

if TYPE_CHECKING:  # the registry stays importable without torch
    from fourpaths.answering.endpoint import Endpoint
    from fourpaths.answering.engine import Generator
    from fourpaths.answering.workspace import Workspace


@dataclass
class Generation:
    """An answer still to be written and streamed: by the local engine from `prompt_ids`, or, when `endpoint` is
    set, by the endpoint's model `served_model` from `messages`."""

    generator: "Generator | None"
    input: str
    prompt_ids: list[int]
    adapter: str | None = None  # the PEFT adapter to generate with; None: the bare model
    max_new_tokens: int | None = None  # None: the settings' max_new_tokens
    logits_processors: list = field(default_factory=list)  # constraints on what it may say
    sources: list[Source] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    mode: str = "generated"
    endpoint: "Endpoint | None" = None
    served_model: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def served(cls, endpoint: "Endpoint", model: str, messages: list[dict[str, str]], **fields) -> "Generation":
        """A generation for the endpoint: what it is sent is what the trace shows as the input."""
        from fourpaths.answering.endpoint import inert, transcript

        messages = inert(messages)
        return cls(None, transcript(messages), [], endpoint=endpoint, served_model=model, messages=messages, **fields)


@dataclass
class Answer:
    """An answer a model has already found (a reader's span, an answer head's pick): shown as it is."""

    text: str
    model: str
    input: str
    mode: str
    score: float | None = None
    answered: bool = True
    sources: list[Source] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    confidence: float | None = None  # 0 to 1, as fourpaths.types.CONFIDENCE_MEANINGS[mode] says


class AnswerPath(ABC):
    """A way of putting a language model to work. A new one is a module with a subclass and a registry line."""

    id: str
    title: str
    short_title: str
    summary: str

    def check_question(self, question: str, settings: Settings, workspace: "Workspace") -> None:
        """Raise QuestionTooLong, in one line, when this path's model cannot read the question (counted in the
        model's own tokens); the pipeline asks before answering, and refuses a question no path can read."""

    @abstractmethod
    def answer(self, question: str, settings: Settings, workspace: "Workspace") -> Generation | Answer:
        """Turn the question into this path's answer, or into the generation that writes it; raise
        FourpathsError, with the reason in one line, when this path cannot run."""
