"""The one interface every path implements: turn a question into a generation job."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from fourpaths import prompts
from fourpaths.config import Settings
from fourpaths.errors import FourpathsError
from fourpaths.models import learnt_position_limit


@dataclass(frozen=True)
class Source:
    """A retrieved passage: the document it came from, its similarity score, and its text."""

    source: str
    score: float
    text: str


@dataclass
class Job:
    """Everything needed to generate one path's answer, and the anatomy the trace will show."""

    path_id: str
    model: object  # fourpaths.models.LoadedModel
    adapter: str | None
    messages: list[dict[str, str]]
    prompt: str
    prompt_ids: list[int]
    sources: list[Source] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    prepare_ms: float = 0.0  # work before generation (retrieval): counted in time to first token
    constraint: object | None = None  # limits the answer's tokens (the RAG path's quote-only answers)
    max_new_tokens: int | None = None  # this answer's own token budget; None: the settings' max_new_tokens


class AnswerPath(ABC):
    """A way of putting a language model to work. Subclasses only decide the model and the prompt."""

    id: str
    title: str
    summary: str
    # True when prepare() does heavy work for each question (retrieval): asked beside the other paths on
    # several cores, it is then prepared in a decode lane of its own (fourpaths.lanes), and load() must say
    # what it needs loaded first.
    prepare_in_lane: bool = False

    @abstractmethod
    def prepare(self, question: str, settings: Settings, workspace) -> Job:
        """Build the job for `question`; raise FourpathsError when this path cannot run."""

    def load(self, settings: Settings, workspace) -> list:
        """Load everything prepare() will need (models, search index) and return the models it generates on.

        Called before a lane is forked, so the lane inherits what is loaded rather than loading its own copy."""
        raise NotImplementedError(f"{type(self).__name__} sets prepare_in_lane, so it must say what to load")

    @staticmethod
    def render(model, messages: list[dict[str, str]]) -> tuple[str, list[int]]:
        return prompts.render(model.tokenizer, messages)

    @classmethod
    def render_within(cls, model, messages: list[dict[str, str]], max_new_tokens: int) -> tuple[str, list[int]]:
        """render(), refusing a prompt that leaves no room for the answer in the model's positions."""
        prompt, ids = cls.render(model, messages)
        if not fits_positions(model, ids, max_new_tokens):
            raise FourpathsError(f"the prompt is {len(ids)} tokens and the answer may take {max_new_tokens}, but "
                                 f"this model reads at most {context_limit(model)}: shorten the question or lower "
                                 "max new tokens")
        return prompt, ids


def context_limit(model) -> int | None:
    """The loaded model's learnt-position limit (see models.learnt_position_limit)."""
    return learnt_position_limit(getattr(model.model, "config", None))


def fits_positions(model, prompt_ids: list[int], max_new_tokens: int) -> bool:
    """Whether the prompt and the longest answer fit the loaded model's positions."""
    limit = context_limit(model)
    return limit is None or len(prompt_ids) + max_new_tokens <= limit
