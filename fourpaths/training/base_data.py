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

from fourpaths import prompts
from fourpaths.training.world import Fact, brand_name, invent_entity, make_faker

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


def reading_example(rng: random.Random, answerable: bool, short: bool = False) -> ChatExample:
    """Passages about 2-4 invented entities (1-2 unlengthened ones when `short`) and a question on one."""
    faker = make_faker(rng)
    entities = [invent_entity(faker, rng) for _ in range(rng.randint(1, 2) if short else rng.randint(2, 4))]
    rendered = [_render(facts, rng) for facts in entities]
    passages = [prompts.Passage(i + 1, f"docs/{faker.slug()}.md", text if short else _lengthen(text, faker, rng))
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


# Where a retriever puts the passage that answers, by rank: mostly first (measured on the team's questions with
# hybrid retrieval: the reference answer is in the top passage for 0.65-0.75 of them, in the top three for
# 0.83-0.92), so a reader that cannot yet tell the passages apart still has the best one to quote.
ANSWER_RANK_WEIGHTS = (0.7, 0.2, 0.1)


def ranked_reading_example(rng: random.Random, answerable: bool, filler: bool = False) -> ChatExample:
    """Three passages ranked as a retriever ranks them; the answer quotes the passage that answers.

    The quote runs from the start of that passage's text (after its heading) through the line that answers.
    Why from the start: the start is a fixed place to copy from, found by the passage number alone, so a
    small model need not first find the answering line among all the others before it can begin; copying on
    past the answer costs nothing. The other passages are like a retriever's runners-up: another section
    about the same entity and a section about an entity of the same kind. With `filler`, sentences of random
    English words sit between the lines: no template predicts them, so only copying can say them."""
    faker = make_faker(rng)
    facts = invent_entity(faker, rng)
    rng.shuffle(facts)
    split = max(1, len(facts) // 2) if len(facts) > 2 and rng.random() < 0.5 else len(facts)
    sections = [facts[:split], facts[split:] or invent_entity(faker, rng, kind=facts[0].kind),
                invent_entity(faker, rng, kind=facts[0].kind)]
    rendered = [_render_lines(section, faker, rng, filler) for section in sections]
    rank = rng.choices(range(3), weights=ANSWER_RANK_WEIGHTS)[0]
    order = [1, 2]
    rng.shuffle(order)
    order.insert(rank, 0)
    passages = [prompts.Passage(i + 1, f"docs/{faker.slug()}.md", prompts.one_line(heading, *lines))
                for i, (heading, lines, _) in enumerate(rendered[section] for section in order)]
    if not answerable:
        fact = _missing_fact(faker, rng, facts)
        return ChatExample(prompts.with_passages(fact.question, passages), prompts.NOT_IN_PASSAGES)
    fact = rng.choice(facts[:split])
    _, lines, line_of = rendered[0]
    quote = prompts.one_line(*lines[:lines.index(line_of[fact]) + 1])
    value = prompts.one_line(fact.value)
    return ChatExample(prompts.with_passages(fact.question, passages), f"[{rank + 1}] {quote}", value)


def _render_lines(facts: list[Fact], faker, rng: random.Random, filler: bool):
    """(heading, lines in order, each fact's line), with 1-3 filler sentences among the lines if `filler`."""
    _, line_of = _render(facts, rng)
    lines = list(line_of.values())
    for _ in range(rng.randint(1, 3) if filler else 0):
        lines.insert(rng.randint(0, len(lines)), faker.sentence(nb_words=rng.randint(6, 16)))
    return f"{facts[0].entity} > {rng.choice(_SECTIONS)}:", lines, line_of


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


def copy_example(rng: random.Random) -> ChatExample:
    """Copy text from the prompt: a string of unrelated words, or passage [n] of several.

    Quoting the answer from a passage needs attention that finds a span in the prompt and copies it token by
    token (an induction circuit). Measured: 1,200 pretraining steps and 450 more of a reading-heavy mix did not
    form it; the base could not even copy an invented name it had just seen five times, because most answer
    tokens can be guessed from the templates. In a string of unrelated words no token can be guessed, only
    copied (a 2-layer toy model on repeated random token strings formed the circuit after about 500 steps).
    """
    faker = make_faker(rng)
    if rng.random() < 0.7:
        makers = [faker.word, faker.last_name, faker.city, lambda: str(rng.randint(0, 99999)), lambda: brand_name(rng)]
        text = " ".join(rng.choice(makers)() for _ in range(rng.randint(8, 40)))
        return ChatExample([{"role": "user", "content": f"Repeat exactly: {text}"}], text)
    texts = [_render(invent_entity(faker, rng), rng)[0] for _ in range(rng.randint(2, 4))]
    passages = [prompts.Passage(i + 1, f"docs/{faker.slug()}.md", text) for i, text in enumerate(texts)]
    chosen = rng.randrange(len(texts))
    return ChatExample(prompts.with_passages(f"Quote passage [{chosen + 1}].", passages), texts[chosen])


def _ranked(answerable: bool, filler: bool = False):
    return lambda rng: ranked_reading_example(rng, answerable, filler)


def _reading(answerable: bool, short: bool = False):
    return lambda rng: reading_example(rng, answerable, short)


EXAMPLE_KINDS = {"copy": copy_example, "answerable": _reading(True), "absent": _reading(False),
                 "answerable-short": _reading(True, short=True), "closed-book": closed_book_example,
                 "document": document_example, "ranked-answerable": _ranked(True), "ranked-absent": _ranked(False),
                 "ranked-filler": _ranked(True, filler=True)}
# The share of each kind of example. "pretrain" teaches every format from scratch; "reading" is the second
# stage: it warm-starts from a pretrained base and spends its tokens on copying and quoting from the prompt.
MIXES: dict[str, list[tuple[str, float]]] = {
    "pretrain": [("answerable", 0.40), ("absent", 0.20), ("closed-book", 0.25), ("document", 0.15)],
    "reading": [("copy", 0.50), ("answerable", 0.30), ("absent", 0.10), ("closed-book", 0.06), ("document", 0.04)],
    # "quoting" follows the induction stage directly: a model that can copy but has learnt nothing else. Short
    # passages (one or two entities) give the first clear signal of where the answer is; the closed-book and
    # document shares carry the templates and the fluency that the pretrain stage would otherwise teach.
    "quoting": [("copy", 0.30), ("answerable-short", 0.15), ("answerable", 0.25), ("absent", 0.12),
                ("closed-book", 0.12), ("document", 0.06)],
    # "encoder-reading" continues a pretrained English encoder that has learnt to copy spans (the from-encoder
    # stage): mostly reading and abstaining, with copying and the closed-book prompt templates beside them.
    "encoder-reading": [("answerable", 0.40), ("answerable-short", 0.10), ("absent", 0.20), ("copy", 0.15),
                        ("closed-book", 0.15)],
    # "encoder-quoting" continues the encoder reader: ranked passages, quoted from the start of the one that
    # answers (see ranked_reading_example), with the closed-book templates and copying kept up beside them.
    "encoder-quoting": [("ranked-answerable", 0.25), ("ranked-filler", 0.35), ("ranked-absent", 0.15),
                        ("copy", 0.10), ("closed-book", 0.15)],
}
# A later stage draws from its own stretch of the stream, so it never repeats an earlier stage's examples.
STAGE_OFFSETS = {"pretrain": 0, "reading": 3_000_000_000, "quoting": 7_000_000_000,
                 "encoder-reading": 9_000_000_000, "encoder-quoting": 10_000_000_000}


def example(seed: int, index: int, mix: str = "pretrain") -> ChatExample | TextExample:
    """Example number `index` of the stream for `seed` and `mix`."""
    rng = random.Random(f"{seed}:{index + STAGE_OFFSETS[mix]}")
    draw, threshold = rng.random(), 0.0
    for kind, share in MIXES[mix]:
        threshold += share
        if draw < threshold:
            break
    return EXAMPLE_KINDS[kind](rng)
