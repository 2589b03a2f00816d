"""The reader's generated documents: facts, blocks and sections, and how they are rendered to Markdown.

A document kind (fourpaths.training.reader_doc_kinds) builds sections of fact groups and filler with a
`FactMaker`; `render_document` writes them as Markdown and records which facts it kept (`stated`) and which it
left out (`absent`: questions the document cannot answer). Every fact records the sentence that states it and
the character span of its short answer, so a question over any passage that holds the sentence has a span.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from pathlib import Path

from fourpaths.config import Settings
from fourpaths.retrieval.corpus import Document, chunk_document
from fourpaths.training.world import Company

CHUNK_WORDS = Settings.chunk_words  # passages like the retriever's
CHUNK_OVERLAP = Settings.chunk_overlap

@dataclass(frozen=True)
class Fact:
    evidence: str  # the sentence or list item that states the fact, as it appears in the document
    start: int  # the answer's character span within `evidence`
    end: int
    questions: tuple[str, ...]
    group: int  # facts stated by one sentence share a group (and are kept or left out together)

    @property
    def answer(self) -> str:
        return self.evidence[self.start:self.end]


@dataclass
class Block:
    kind: str  # "p" paragraph, "ul" bullets, "ol" numbered steps, "table", "faq" (### question + paragraph)
    items: list  # Fact groups (lists of Fact) and filler strings; for "table": rows, each a list of cells
    title: str = ""


@dataclass
class Section:
    heading: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class GeneratedDoc:
    title: str
    text: str
    chunks: list[str]
    stated: list[Fact]  # facts the text states
    absent: list[Fact]  # facts left out: their questions have no answer in this document
    kind: str


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
TEAMS = ["People Operations", "Finance", "the IT Service Desk", "Customer Support", "Facilities", "Security Operations",
          "Legal", "Procurement", "the Payroll team", "Workplace Services", "the Platform team", "Sales Operations"]
ROLES = ["Chief People Officer", "Head of Finance", "IT Director", "Head of Security", "Product Manager",
          "Director of Engineering", "Head of Customer Support", "Facilities Manager", "Chief Operating Officer",
          "Head of Procurement", "Head of Legal", "VP Manufacturing", "Head of Sales", "Data Protection Lead",
          "Head of Workplace Technology", "Payroll Manager", "Learning and Development Lead", "Chief Financial Officer"]
LANGUAGES = ["Spanish", "Dutch", "German", "French", "Italian", "Polish", "Portuguese", "Japanese", "Korean",
              "Swedish", "Czech", "Turkish", "Hindi"]
BROWSERS = ["Chrome", "Edge", "Firefox", "Safari", "Opera", "Brave"]
FEATURES = ["Route Planner", "Shift Report", "Battery Forecast", "Zone Editor", "Fleet Simulator", "Audit Log",
             "Map Export", "Task Queue", "Alert Centre", "Heat Map", "Pick Planner", "Dock Scheduler", "Traffic Rules",
             "Usage Report", "Floor Designer", "Event Stream"]
MEANINGS = ["device certificate expired", "password expired", "account locked", "licence limit reached",
             "gateway unreachable", "clock out of sync", "unsupported client version", "session timed out",
             "token revoked", "disk quota exceeded", "firmware mismatch", "map file corrupted"]
VENUES = ["Hall", "Manor", "House", "Lodge", "Court", "Park"]
STREETS = ["Row", "Street", "Road", "Lane", "Way", "Quay", "Avenue", "Place", "Square", "Wharf"]
FLOORS = ["second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
PRODUCT_TYPES = ["AMR", "Lift", "Picker", "Dock", "Scanner", "Sorter", "Tug", "Shuttle", "Arm", "Cart"]

_FORMATTER = string.Formatter()


def _render(template: str, slots: dict[str, object]) -> tuple[str, dict[str, tuple[int, int]]]:
    """The template filled in, and where each slot's value landed (its first occurrence)."""
    parts, where, at = [], {}, 0
    for literal, name, _, _ in _FORMATTER.parse(template):
        parts.append(literal)
        at += len(literal)
        if name is not None:
            value = str(slots[name])
            where.setdefault(name, (at, at + len(value)))
            parts.append(value)
            at += len(value)
    text = "".join(parts)
    return text[:1].upper() + text[1:], where


class FactMaker:
    """Builds the facts of one document; each call to `say` is one sentence and may answer several questions."""

    def __init__(self, world: Company) -> None:
        self.world = world
        self.group = 0

    def say(self, templates, asked: dict[str, list[str]] | list[str], **slots) -> list[Fact]:
        """`templates`: one is picked and filled with `slots`; `asked` maps a slot to its question wordings
        (a plain list means the slot "v")."""
        template = self.world.pick(templates) if isinstance(templates, (list, tuple)) else templates
        asked = {"v": asked} if isinstance(asked, list) else asked
        slots = {"co": self.world.co, **slots}
        text, where = _render(template, slots)
        text = text.rstrip(".")  # the renderer ends it as its block needs: a full stop, or none in a spec list
        self.group += 1
        facts = []
        for name, questions in asked.items():
            start, end = where[name]
            wordings = tuple(_FORMATTER.vformat(q, (), slots) for q in questions)
            facts.append(Fact(text, start, end, wordings, self.group))
        return facts


# ---------------------------------------------------------------------------------------------------------------
# Filler: sentences that state nothing asked, in the register of company documents

_FILLER = [
    "This applies to every permanent and fixed-term employee in {o1}, {o2} and {o3}.",
    "Contractors and agency workers follow the terms of their own agreements.",
    "Where local law gives a more generous entitlement, local law applies.",
    "Questions about this page go to {team} at {email}.",
    "Managers may decline a request only for a clear business reason, recorded in {tool}.",
    "All balances are held in {tool}, which shows the current figures in real time.",
    "The figures below exclude VAT unless stated otherwise.",
    "Exceptions are rare and must be approved in writing before the work starts.",
    "Please read this page in full before you submit anything.",
    "Older versions of this document are archived on {intranet} and must not be used.",
    "Do not agree changes by email or chat alone, because an unrecorded decision cannot be audited.",
    "The full procedure is described in the operations handbook on {intranet}.",
    "If you are unsure, ask your line manager first, then {team}.",
    "This section was rewritten after feedback from the {o1} and {o2} teams.",
    "Customers are told about changes through their account manager.",
    "The process is reviewed once a year by the leadership team.",
    "Local teams may publish additional guidance, but it cannot override this page.",
    "Keep copies of any receipts or confirmations until the end of the financial year.",
    "The same rules apply to part-time staff, pro rata to their contracted hours.",
    "Requests that arrive incomplete are returned to the sender without a decision.",
    "Every site follows the same safety rules, whatever its size.",
    "Figures are reported each month to the leadership team.",
    "For anything not covered here, raise a ticket in {tickets}.",
    "{team} publishes a short summary of the changes on {intranet} each quarter.",
    "The aim is to keep the process simple for staff and predictable for customers.",
    "These rules have been in place since the last major review and remain unchanged.",
    "Some teams have short periods when this is limited because customers depend on them.",
    "Sites with special requirements agree the details during commissioning.",
    "{team} aims to answer questions within {n} working days.",
    "About {pct}% of staff used this option in {year}.",
    "The form takes about {n} minutes to complete.",
    "The previous version of this page, {ver}, was withdrawn on {date}.",
    "In {year} the team handled {big} requests, up from {big2} the year before.",
    "A refresher session runs every {weekday} at {time} UK time.",
    "Training on this topic is part of the {n}-week onboarding plan.",
    "The {o1} team trialled the change for {n} weeks from {date}.",
    "{person} ({role}) chairs the quarterly review.",
    "Printed copies are kept at reception in {o1} and {o2}.",
    "Last year {pct}% of requests were approved within the target time.",
]


def filler(world: Company) -> str:
    template = world.pick(_FILLER)
    text, _ = _render(template, {"o1": world.offices[0], "o2": world.offices[1], "o3": world.offices[2],
                                 "team": world.pick(TEAMS), "email": f"{world.pick(['help', 'people', 'it', 'ops', 'info'])}@{world.domain}",
                                 "tool": world.tools["hr"], "intranet": world.tools["intranet"],
                                 "tickets": world.tools["tickets"], "n": world.n(2, 12), "pct": world.n(5, 95),
                                 "year": world.n(2019, 2025), "ver": f"version {world.version()}",
                                 "date": world.date(2023, 2025), "big": world.num(200, 9000),
                                 "big2": world.num(200, 9000), "weekday": world.pick(WEEKDAYS),
                                 "time": world.hour(9, 16), "person": world.person(), "role": world.pick(ROLES)})
    return text


def _as_row(group: list[Fact]) -> tuple[str, list[Fact]]:
    """A table row for one sentence: "Label: value" becomes | Label | value |, anything else one wide cell.
    The facts are restated with the row as their evidence, so their spans still point at the answer."""
    evidence = group[0].evidence
    head, colon, rest = evidence.partition(": ")
    if not colon:
        row = f"| {evidence} | |"
        return row, [Fact(row, f.start + 2, f.end + 2, f.questions, f.group) for f in group]
    row = f"| {head} | {rest} |"
    shift_head, shift_rest = 2, 2 + 3 - 2  # "| " before the label; " | " replaces ": "
    moved = []
    for f in group:
        if f.end <= len(head):
            moved.append(Fact(row, f.start + shift_head, f.end + shift_head, f.questions, f.group))
        elif f.start >= len(head) + 2:
            moved.append(Fact(row, f.start + shift_rest, f.end + shift_rest, f.questions, f.group))
    return row, moved


def _render_block(block: Block, texts: list[str]) -> list[str]:
    if block.kind == "p":
        return [" ".join(_sentence(t) for t in texts)]
    if block.kind == "ul":
        return [f"- {_bullet(t)}" for t in texts]
    if block.kind == "ol":
        return [f"{i}. {_sentence(t)}" for i, t in enumerate(texts, 1)]
    if block.kind == "faq":
        return [f"### {block.title}", "", " ".join(_sentence(t) for t in texts)]
    if block.kind == "table":
        rows = [t if t.startswith("| ") else f"| {t} | |" for t in texts]
        return ["| Item | Detail |", "|---|---|", *rows]
    raise ValueError(block.kind)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def _bullet(text: str) -> str:
    """Short "Label: value" items are written without a full stop, as spec lists are."""
    return text if ": " in text and len(text.split()) <= 8 else _sentence(text)


def render_document(rng: random.Random, world: Company, kind: str, title: str, sections: list[Section],
                    meta: tuple[list[Fact], list[Fact], str], absent_share: float) -> GeneratedDoc:
    """The document as Markdown, with filler between its facts, cut into passages as the retriever cuts; about
    `absent_share` of its fact sentences are left out (their questions have no answer here)."""
    owner, reviewed, version = meta
    show_owner = rng.random() < 0.85
    lines = [f"# {title}", "", " · ".join([owner[0].evidence] * show_owner + [version, reviewed[0].evidence]), ""]
    stated: list[Fact] = list(reviewed) + (list(owner) if show_owner else [])
    absent: list[Fact] = [] if show_owner else list(owner)
    for section in sections:
        lines += [f"## {section.heading}", ""]
        for block in section.blocks:
            if block.kind in ("ul", "ol", "table") and rng.random() < 0.5:
                lines += [" ".join(filler(world) for _ in range(rng.randint(1, 2))), ""]  # a lead-in paragraph
            if block.kind == "p":
                for _ in range(rng.randint(0, 2)):
                    block.items.insert(rng.randint(0, len(block.items)), filler(world))
            kept: list[str] = []
            for item in block.items:
                if not isinstance(item, list):
                    kept.append(item)
                elif rng.random() < absent_share:
                    absent.extend(item)
                else:
                    text, facts = _as_row(item) if block.kind == "table" else (item[0].evidence, item)
                    stated.extend(facts)
                    kept.append(text)
            if kept:
                lines += _render_block(block, kept) + [""]
    text = "\n".join(lines)
    document = Document(name="generated.md", path=Path("generated.md"), text=text, collection="docs")
    chunks = [chunk.text for chunk in chunk_document(document, CHUNK_WORDS, CHUNK_OVERLAP)]
    return GeneratedDoc(title, text, chunks, stated, absent, kind)
