"""The one interface the four ways of answering share, and what they hand the pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from fourpaths.config import Settings
from fourpaths.types import Source


@dataclass
class Generation:
    """An answer still to be written: the engine generates it from `prompt_ids` and streams it."""

    generator: object  # fourpaths.engine.Generator
    input: str
    prompt_ids: list[int]
    adapter: str | None = None  # the PEFT adapter to generate with; None: the bare model
    max_new_tokens: int | None = None  # None: the settings' max_new_tokens
    logits_processors: list = field(default_factory=list)  # constraints on what it may say
    sources: list[Source] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    mode: str = "generated"


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


class Approach(ABC):
    """A way of putting a language model to work. A new one is a module with a subclass and a registry line."""

    id: str
    title: str
    summary: str

    @abstractmethod
    def answer(self, question: str, settings: Settings, workspace) -> Generation | Answer:
        """Turn the question into this approach's answer, or into the generation that writes it; raise
        FourpathsError, with the reason in one line, when this approach cannot run."""
