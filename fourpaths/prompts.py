"""The engineered prompts, as chat messages.

One module owns every prompt format, because two parties must agree on them exactly: the paths that build
prompts at question time, and the base-model recipe that teaches the base to follow them. A template is a
function from a question (plus its extras) to a list of chat messages; the tokenizer's chat template turns
the messages into the final prompt text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from fourpaths.errors import FourpathsError

Message = dict[str, str]

UNKNOWN_ANSWER = "I don't know."
NOT_IN_PASSAGES = "The passages do not say."

DEFAULT_ROLE = "the staff help desk of the company"

ROLE_SYSTEM = "You are {role}. Answer in one short sentence. If you do not know, say: " + UNKNOWN_ANSWER
STEP_SYSTEM = (
    "Think step by step. Write each step on its own line starting with 'Step N:', "
    "then give the final answer on a line starting with 'Answer:'."
)
FORMAT_SYSTEM = (
    "Reply with the answer only, in at most 8 words, with no full sentence. "
    "If you do not know, reply exactly: " + UNKNOWN_ANSWER
)
RAG_SYSTEM = (
    "Answer the question using only the numbered passages. Quote the sentence that answers it and cite its "
    "number like [2]. If the passages do not contain the answer, reply: " + NOT_IN_PASSAGES
)


@dataclass(frozen=True)
class Example:
    """A worked question and answer shown to the model in a few-shot prompt."""

    question: str
    answer: str


@dataclass(frozen=True)
class Passage:
    """A retrieved passage as the model sees it: numbered, with the document it came from."""

    number: int
    source: str
    text: str


def zero_shot(question: str, **_: object) -> list[Message]:
    return [{"role": "user", "content": question}]


def few_shot(question: str, examples: Sequence[Example] = (), **_: object) -> list[Message]:
    """Worked examples as earlier chat turns: the format small chat models imitate most reliably."""
    messages: list[Message] = []
    for example in examples:
        messages.append({"role": "user", "content": example.question})
        messages.append({"role": "assistant", "content": example.answer})
    messages.append({"role": "user", "content": question})
    return messages


def step_by_step(question: str, **_: object) -> list[Message]:
    return [{"role": "system", "content": STEP_SYSTEM}, {"role": "user", "content": question}]


def role_play(question: str, role: str = DEFAULT_ROLE, **_: object) -> list[Message]:
    return [{"role": "system", "content": ROLE_SYSTEM.format(role=role)}, {"role": "user", "content": question}]


def answer_format(question: str, **_: object) -> list[Message]:
    return [{"role": "system", "content": FORMAT_SYSTEM}, {"role": "user", "content": question}]


def one_line(*texts: str) -> str:
    """The texts joined, every run of whitespace made one space: how a passage stands in the RAG prompt, on the
    one numbered line that the retrieval path and the reading recipes both write (a line break would end it)."""
    return " ".join(" ".join(texts).split())


def format_passages(passages: Sequence[Passage]) -> str:
    return "\n".join(f"[{p.number}] ({p.source}) {p.text}" for p in passages)


def with_passages(question: str, passages: Sequence[Passage] = (), **_: object) -> list[Message]:
    """The RAG prompt: the question, the numbered passages, then the question again, next to the answer.

    Why the question comes first as well: a causal model reads each passage token knowing only what came
    before it. With the question ahead of them, the passage lines are read *in the light of the question*,
    so the line that answers can stand out before the answer begins (the query-aware contextualisation of
    Liu et al., "Lost in the Middle", 2023). Numbers let the answer cite a passage."""
    content = f"Question: {question}\n\nPassages:\n{format_passages(passages)}\n\nQuestion: {question}"
    return [{"role": "system", "content": RAG_SYSTEM}, {"role": "user", "content": content}]


# The templates a user picks from for the prompt path, in the order the sidebar shows them.
PROMPT_TEMPLATES: dict[str, Callable[..., list[Message]]] = {
    "zero-shot": zero_shot,
    "few-shot": few_shot,
    "step-by-step": step_by_step,
    "role": role_play,
    "answer-format": answer_format,
}


def render(tokenizer, messages: Sequence[Message]) -> tuple[str, list[int]]:
    """The final prompt text, by the tokenizer's chat template, and its ids, encoded on their own as generation
    sees them. The paths, the recipes' training rows and their held-out tests all render through here."""
    prompt = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    return prompt, tokenizer(prompt, add_special_tokens=False)["input_ids"]


def build_messages(template: str, question: str, **extras: object) -> list[Message]:
    try:
        return PROMPT_TEMPLATES[template](question, **extras)
    except KeyError:
        known = ", ".join(PROMPT_TEMPLATES)
        raise FourpathsError(f"unknown prompt template {template!r}; choose one of: {known}") from None
