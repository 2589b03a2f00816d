"""Pretraining examples for the base model, generated from random fictional worlds.

Four kinds of example teach the three skills the other paths rely on:
- reading: numbered passages plus a question; the answer quotes the line that answers it and cites [n],
  or says the passages do not say (when the entity or the asked fact is missing);
- closed book: the prompt templates (zero-shot, few-shot, step-by-step, role, answer-format) asked about
  entities nobody told the model about, answered with an honest "I don't know" in the asked format;
  few-shot prompts sometimes re-ask a fact shown in an example, which must then be answered;
- documents: plain handbook-style text, for fluency.
Example i depends only on (seed, i), so a resumed run continues the very same stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fourpaths.answering import prompts
from fourpaths.training.world import Fact, invent_entity, make_faker

_SECTIONS = ["Overview", "Key facts", "Details", "Specifications", "Summary", "At a glance", "Notes"]


@dataclass(frozen=True)
class ChatExample:
    """Messages before the answer, and the answer the model should learn to give."""

    messages: list[dict[str, str]]
    response: str
    expected: str | None = None  # the value a correct answer must contain; None where it must abstain


@dataclass(frozen=True)
class TextExample:
    text: str


def _render(facts: list[Fact], rng: random.Random) -> tuple[str, dict[Fact, str]]:
    """A passage about one entity: a heading, then each fact as a sentence or a bullet line."""
    lines = {fact: (fact.bullet if rng.random() < 0.35 else fact.sentence) for fact in facts}
    heading = f"{facts[0].entity} > {rng.choice(_SECTIONS)}:"
    return " ".join([heading, *lines.values()]), lines


def _lengthen(text: str, faker, rng: random.Random) -> str:
    """Real chunks run to about 90 words: append another entity's section to some passages."""
    if rng.random() < 0.5:
        text = f"{text} {_render(invent_entity(faker, rng), rng)[0]}"
    return text


def _quote(line: str, number: int) -> str:
    text = line[2:] if line.startswith("- ") else line
    return f"{text.rstrip('.')} [{number}]."


def reading_example(rng: random.Random, answerable: bool) -> ChatExample:
    """Passages about 2-4 invented entities and a question on one."""
    faker = make_faker(rng)
    entities = [invent_entity(faker, rng) for _ in range(rng.randint(2, 4))]
    rendered = [_render(facts, rng) for facts in entities]
    passages = [prompts.Passage(i + 1, f"docs/{faker.slug()}.md", _lengthen(text, faker, rng))
                for i, (text, _) in enumerate(rendered)]
    target_index = rng.randrange(len(entities))
    if answerable:
        fact = rng.choice(entities[target_index])
        response = _quote(rendered[target_index][1][fact], target_index + 1)
        expected = fact.value
    else:
        fact = _missing_fact(faker, rng, entities[target_index])
        response, expected = prompts.NOT_IN_PASSAGES, None
    return ChatExample(prompts.with_passages(fact.question, passages), response, expected)


def reading_answerable(rng: random.Random) -> ChatExample:
    return reading_example(rng, answerable=True)


def reading_absent(rng: random.Random) -> ChatExample:
    return reading_example(rng, answerable=False)


def _missing_fact(faker, rng: random.Random, present: list[Fact]) -> Fact:
    """Either a stranger entity, or an attribute of a present entity that no passage states."""
    if rng.random() < 0.5:
        return invent_entity(faker, rng, kind=present[0].kind, n_facts=1)[0]
    stated = {fact.label for fact in present}
    for candidate in invent_entity(faker, rng, kind=present[0].kind, n_facts=None):
        if candidate.label not in stated:
            question = candidate.question.replace(candidate.entity, present[0].entity)
            return Fact(present[0].entity, candidate.kind, candidate.label, candidate.value, "", "", question)
    return invent_entity(faker, rng, kind=present[0].kind, n_facts=1)[0]


def closed_book_example(rng: random.Random) -> ChatExample:
    faker = make_faker(rng)
    fact = invent_entity(faker, rng, n_facts=1)[0]
    template = rng.choice(list(prompts.PROMPT_TEMPLATES))
    if template == "few-shot":
        return _few_shot_example(faker, rng, fact)
    extras = {"role": f"the {faker.job().lower()} assistant at {faker.company()}"} if template == "role" else {}
    messages = prompts.build_messages(template, fact.question, **extras)
    return ChatExample(messages, _unknown_in_format(template, fact))


def _unknown_in_format(template: str, fact: Fact) -> str:
    if template == "answer-format":
        return prompts.UNKNOWN_ANSWER
    if template == "step-by-step":
        return (f"Step 1: The question asks for the {fact.label.lower()} of {fact.entity}.\n"
                f"Step 2: I have no information about {fact.entity}.\nAnswer: {prompts.UNKNOWN_ANSWER}")
    return f"{prompts.UNKNOWN_ANSWER} I have no information about {fact.entity}."


def _few_shot_example(faker, rng: random.Random, fact: Fact) -> ChatExample:
    shown = [invent_entity(faker, rng, n_facts=1)[0] for _ in range(rng.randint(2, 4))]
    examples = [prompts.Example(f.question, f.value) for f in shown]
    if rng.random() < 0.3:
        asked = rng.choice(shown)
        messages = prompts.few_shot(asked.question, examples)
        return ChatExample(messages, asked.value)
    return ChatExample(prompts.few_shot(fact.question, examples), prompts.UNKNOWN_ANSWER)


def document_example(rng: random.Random) -> TextExample:
    faker = make_faker(rng)
    parts = [f"# {faker.company()} handbook"]
    for _ in range(rng.randint(2, 4)):
        facts = invent_entity(faker, rng)
        parts.append(f"## {facts[0].entity}")
        parts.append("\n".join(fact.bullet if rng.random() < 0.4 else fact.sentence for fact in facts))
    return TextExample("\n\n".join(parts))


# The share of each kind of example in the stream.
MIX = [(reading_answerable, 0.40), (reading_absent, 0.20), (closed_book_example, 0.25), (document_example, 0.15)]


def example(seed: int, index: int) -> ChatExample | TextExample:
    """Example number `index` of the stream for `seed`."""
    rng = random.Random(f"{seed}:{index}")
    draw, threshold = rng.random(), 0.0
    for make, share in MIX:
        threshold += share
        if draw < threshold:
            break
    return make(rng)
