"""Random fictional worlds: the general text the base model is pretrained on, and the invented companies whose
documents the reader learns to read (`Company`).

Every call invents new organisations, products, offices, policies, people and software releases with Faker,
so a model learns *how* such facts are written and asked about without ever seeing the knowledge base's
facts. Each fact can be rendered as a sentence or a bullet line and asked about in several wordings.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Callable

from faker import Faker

_BRAND_SYLLABLES = ["zor", "vel", "tam", "kri", "lun", "bra", "ost", "fen", "qui", "dar", "mel", "syl", "tor",
                    "nax", "pel", "ruv", "gal", "hin", "jas", "wex"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
_TOOLS = ["Orbit", "Ledger", "Beacon", "Harbour", "Anchor", "Lantern", "Keel", "Quarry", "Meridian", "Tiller"]
_POLICY_KINDS = ["annual leave", "travel", "expenses", "remote work", "training", "equipment", "overtime",
                 "parental leave", "sick leave", "visitor"]
_PRODUCT_KINDS = ["robot", "scanner", "drone", "conveyor", "sensor", "charger", "tablet", "printer", "lift"]


@dataclass(frozen=True)
class Attribute:
    """One kind of fact: how it is labelled, stated and asked about."""

    label: str
    make_value: Callable[[Faker, random.Random], str]
    statements: tuple[str, ...]
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Fact:
    entity: str
    kind: str
    label: str
    value: str
    sentence: str
    bullet: str
    question: str


def _money(r: random.Random, low: int, high: int) -> str:
    return f"£{r.randrange(low, high) * 10:,}"


def _date(r: random.Random, first_year: int = 1990, last_year: int = 2025) -> str:
    return f"{r.randint(1, 28)} {r.choice(MONTHS)} {r.randint(first_year, last_year)}"


def brand_name(r: random.Random) -> str:
    word = "".join(r.choice(_BRAND_SYLLABLES) for _ in range(r.randint(2, 3))).capitalize()
    return f"{word} {r.choice(['', 'X', 'Pro ', 'Mk '])}{r.randint(2, 900)}".replace("  ", " ")


def _a(label, make_value, statements, questions) -> Attribute:
    return Attribute(label, make_value, tuple(statements), tuple(questions))


KINDS: dict[str, tuple[Callable[[Faker, random.Random], str], list[Attribute]]] = {
    "company": (lambda f, r: f.company(), [
        _a("Founded", lambda f, r: _date(r, 1950, 2020),
           ["{e} was founded on {v}.", "{e} started trading on {v}.", "The founding date of {e} is {v}."],
           ["When was {e} founded?", "On what date did {e} start?", "What is the founding date of {e}?"]),
        _a("Headquarters", lambda f, r: f.city(),
           ["{e} has its headquarters in {v}.", "The head office of {e} is in {v}."],
           ["Where is {e} headquartered?", "In which city is the head office of {e}?", "Where is the main office of {e}?"]),
        _a("Employees", lambda f, r: f"{r.randint(12, 9000):,} employees",
           ["{e} has {v}.", "At the last count {e} employed {v}."],
           ["How many employees does {e} have?", "How many people work at {e}?", "What is the headcount of {e}?"]),
        _a("Chief executive", lambda f, r: f.name(),
           ["The chief executive of {e} is {v}.", "{v} leads {e} as chief executive."],
           ["Who is the chief executive of {e}?", "Who runs {e}?", "Who is the CEO of {e}?"]),
        _a("Revenue", lambda f, r: f"£{r.randint(2, 900)} million",
           ["{e} reported revenue of {v} last year.", "Annual revenue at {e} reached {v}."],
           ["What was the revenue of {e}?", "How much revenue did {e} report?", "What are the annual sales of {e}?"]),
    ]),
    "product": (lambda f, r: brand_name(r), [
        _a("List price", lambda f, r: _money(r, 20, 9000),
           ["The {e} has a list price of {v}.", "The {e} costs {v}.", "The {e} sells for {v} excluding VAT."],
           ["How much does the {e} cost?", "What is the price of the {e}?", "What is the list price of the {e}?"]),
        _a("Payload", lambda f, r: f"{r.randint(2, 120) * 5} kg",
           ["The {e} carries a payload of up to {v}.", "The maximum payload of the {e} is {v}."],
           ["What payload can the {e} carry?", "How much weight can the {e} carry?", "What is the maximum load of the {e}?"]),
        _a("Battery runtime", lambda f, r: f"{r.randint(2, 16)} hours",
           ["The {e} runs for {v} on one charge.", "Battery runtime of the {e} is {v}."],
           ["How long does the {e} battery last?", "What is the battery runtime of the {e}?", "How many hours does the {e} run on a charge?"]),
        _a("Launched", lambda f, r: _date(r, 2000, 2025),
           ["The {e} was launched on {v}.", "The {e} first went on sale on {v}."],
           ["When was the {e} launched?", "When did the {e} go on sale?", "What is the launch date of the {e}?"]),
        _a("Warranty", lambda f, r: f"{r.choice([6, 12, 18, 24, 36, 48, 60])} months",
           ["The {e} comes with a warranty of {v}.", "Every {e} is covered by a {v} warranty."],
           ["How long is the warranty on the {e}?", "What warranty does the {e} have?", "For how many months is the {e} covered?"]),
        _a("Top speed", lambda f, r: f"{r.randint(3, 40) / 10} m/s",
           ["The {e} has a top speed of {v}.", "The {e} moves at up to {v}."],
           ["How fast can the {e} move?", "What is the top speed of the {e}?", "What is the maximum speed of the {e}?"]),
    ]),
    "office": (lambda f, r: f"{f.city()} office", [
        _a("Address", lambda f, r: f.street_address(),
           ["The {e} is at {v}.", "You will find the {e} at {v}."],
           ["What is the address of the {e}?", "Where is the {e} located?", "At what street address is the {e}?"]),
        _a("Staff", lambda f, r: f"{r.randint(5, 800)} staff",
           ["The {e} has {v}.", "About {v} work at the {e}."],
           ["How many staff work at the {e}?", "How many people are based at the {e}?", "What is the size of the {e}?"]),
        _a("Opened", lambda f, r: str(r.randint(1980, 2025)),
           ["The {e} opened in {v}.", "The {e} has been open since {v}."],
           ["When did the {e} open?", "In what year was the {e} opened?", "Since when has the {e} been open?"]),
        _a("Head of office", lambda f, r: f.name(),
           ["The head of the {e} is {v}.", "{v} manages the {e}."],
           ["Who is the head of the {e}?", "Who manages the {e}?", "Who is in charge of the {e}?"]),
        _a("Opening hours", lambda f, r: f"{r.randint(6, 9):02d}:00 to {r.randint(16, 21)}:00",
           ["The {e} is open from {v}.", "Opening hours at the {e} are {v}."],
           ["What are the opening hours of the {e}?", "When is the {e} open?", "At what times can I visit the {e}?"]),
    ]),
    "policy": (lambda f, r: f"{r.choice(_POLICY_KINDS)} policy of {f.company()}", [
        _a("Allowance", lambda f, r: f"{r.randint(1, 40)} days",
           ["Under the {e}, each employee is allowed {v} a year.", "The {e} grants {v} per year."],
           ["How many days does the {e} allow?", "What is the yearly allowance under the {e}?", "How many days a year are granted by the {e}?"]),
        _a("Deadline", lambda f, r: f"within {r.choice([3, 5, 7, 10, 14, 21, 30, 60, 90])} days",
           ["Under the {e}, requests must be submitted {v}.", "The {e} says claims are made {v}."],
           ["What is the deadline under the {e}?", "How soon must requests be made under the {e}?", "By when must claims be submitted under the {e}?"]),
        _a("Limit", lambda f, r: f"{_money(r, 3, 80)} a {r.choice(['night', 'day', 'month', 'trip'])}",
           ["The {e} sets a limit of {v}.", "Spending under the {e} is capped at {v}."],
           ["What is the spending limit in the {e}?", "What cap does the {e} set?", "How much can be spent under the {e}?"]),
        _a("Approver", lambda f, r: f.name(),
           ["Exceptions to the {e} are approved by {v}.", "{v} approves exceptions to the {e}."],
           ["Who approves exceptions to the {e}?", "Who signs off exceptions under the {e}?", "Who can grant an exception to the {e}?"]),
        _a("First step", lambda f, r: f"open a request in {r.choice(_TOOLS)}",
           ["The first step under the {e} is to {v}.", "To start, the {e} asks you to {v}."],
           ["What is the first step under the {e}?", "How do I start a request under the {e}?", "What should I do first under the {e}?"]),
        _a("Effective", lambda f, r: _date(r, 2010, 2025),
           ["The {e} took effect on {v}.", "The {e} has applied since {v}."],
           ["When did the {e} take effect?", "Since when has the {e} applied?", "What is the effective date of the {e}?"]),
    ]),
    "person": (lambda f, r: f.name(), [
        _a("Role", lambda f, r: f.job(),
           ["{e} works as {v}.", "The job title of {e} is {v}."],
           ["What is the job of {e}?", "What does {e} do?", "What is the role of {e}?"]),
        _a("Based in", lambda f, r: f.city(),
           ["{e} is based in {v}.", "{e} works from the office in {v}."],
           ["Where is {e} based?", "Which office does {e} work from?", "In which city does {e} work?"]),
        _a("Extension", lambda f, r: f"extension {r.randint(1000, 9999)}",
           ["{e} can be reached on {v}.", "The phone number of {e} is {v}."],
           ["How can I phone {e}?", "What is the extension of {e}?", "Which number reaches {e}?"]),
        _a("Joined", lambda f, r: _date(r, 1995, 2025),
           ["{e} joined on {v}.", "{e} started work on {v}."],
           ["When did {e} join?", "On what date did {e} start work?", "What is the start date of {e}?"]),
    ]),
    "release": (lambda f, r: f"{brand_name(r).split()[0]} {r.randint(1, 12)}.{r.randint(0, 9)}", [
        _a("Released", lambda f, r: _date(r, 2005, 2025),
           ["Version {e} was released on {v}.", "{e} became available on {v}."],
           ["When was {e} released?", "What is the release date of {e}?", "When did {e} come out?"]),
        _a("Fixes", lambda f, r: f"{r.randint(3, 140)} bug fixes",
           ["{e} includes {v}.", "The {e} update ships {v}."],
           ["How many bug fixes are in {e}?", "How many bugs does {e} fix?", "What number of fixes ships in {e}?"]),
        _a("New feature", lambda f, r: f"{r.choice(['route', 'battery', 'map', 'report', 'alert', 'zone'])} {r.choice(['planner', 'dashboard', 'editor', 'export', 'scheduler'])}",
           ["The headline feature of {e} is the new {v}.", "{e} adds a {v}."],
           ["What is the main new feature in {e}?", "What does {e} add?", "Which feature is new in {e}?"]),
        _a("Support ends", lambda f, r: _date(r, 2026, 2032),
           ["Support for {e} ends on {v}.", "{e} stops receiving updates on {v}."],
           ["When does support for {e} end?", "Until when is {e} supported?", "When will {e} stop receiving updates?"]),
    ]),
}


def make_faker(rng: random.Random) -> Faker:
    faker = Faker(["en_GB", "en_US"])
    faker.seed_instance(rng.randrange(2**31))
    return faker


def invent_entity(faker: Faker, rng: random.Random, kind: str | None = None, n_facts: int | None = None) -> list[Fact]:
    """One new entity and a few facts about it, each with its sentence, bullet and one question wording."""
    kind = kind or rng.choice(list(KINDS))
    make_name, attributes = KINDS[kind]
    entity = make_name(faker, rng)
    chosen = rng.sample(attributes, n_facts or rng.randint(2, len(attributes)))
    facts = []
    for attribute in chosen:
        value = attribute.make_value(faker, rng)
        sentence = rng.choice(attribute.statements).format(e=entity, v=value)
        facts.append(Fact(entity, kind, attribute.label, value, sentence[0].upper() + sentence[1:],
                          f"- {attribute.label}: {value}", rng.choice(attribute.questions).format(e=entity)))
    return facts


_COMPANY_SYLLABLES = ["bra", "cor", "dal", "fen", "gar", "hal", "jor", "kel", "lam", "mor", "nev", "osk", "pra", "quen",
              "ril", "sar", "tev", "ul", "var", "wen", "yor", "zel", "ast", "bel", "cly", "dro", "esk", "fal", "gri",
              "hex", "ith", "kor", "lis", "mar", "nor", "ov", "pel", "ros", "sten", "tor", "vik", "wyn"]
_COMPANY_SECTORS = ["Robotics", "Logistics", "Systems", "Automation", "Analytics", "Foods", "Energy", "Labs", "Mobility",
            "Health", "Software", "Instruments", "Engineering", "Materials", "Networks"]
# Real cities, none of which the knowledge base names, beside Faker's invented ones.
CITIES = ["Bristol", "Glasgow", "Cardiff", "Dublin", "Lyon", "Porto", "Krakow", "Gdansk", "Ghent", "Bilbao",
           "Turin", "Malmo", "Tampere", "Brno", "Leipzig", "Nantes", "Denver", "Raleigh", "Columbus", "Halifax",
           "Calgary", "Adelaide", "Auckland", "Kraków", "Valencia", "Bologna", "Aarhus", "Graz", "Lille", "Cork",
           "Bengaluru", "Chennai", "Kochi", "Curitiba", "Guadalajara", "Osaka", "Busan", "Tallinn", "Riga"]

# Words of the knowledge base that no invented company may use
KB_WORDS = {"quillmoor", "loomwork", "ferret", "heron", "magpie", "dovetail", "compass", "wharf", "helm", "keyfob",
            "tally", "vaultline", "toolcrate", "stowage", "lanternline", "quillnet", "larkspur", "wharfside", "weft",
            "leeds", "rotterdam", "pune", "austin", "monterrey"}


class Company:
    """One invented company (the reader's documents): its names, people, tools and places, and helpers that make values."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.faker = make_faker(rng)
        self.co = self.brand() if rng.random() < 0.6 else self.faker.last_name()
        self.co_full = f"{self.co} {rng.choice(_COMPANY_SECTORS)}"
        self.domain = re.sub(r"[^a-z]", "", self.co.lower()) + ".example"
        self.offices = self.rng.sample(CITIES, 3) + [self.city()]
        self.tools = {purpose: self.tool() for purpose in ("hr", "intranet", "expenses", "tickets", "mfa",
                                                           "passwords", "backup", "vpn", "software", "learning")}
        self._people: list[str] = []

    def brand(self, syllables: tuple[int, int] = (2, 3)) -> str:
        for _ in range(20):
            word = "".join(self.rng.choice(_COMPANY_SYLLABLES) for _ in range(self.rng.randint(*syllables))).capitalize()
            if word.lower() not in KB_WORDS:
                return word
        return word

    def tool(self) -> str:
        word = self.brand((2, 2))
        return word + self.rng.choice(["", "", "", "line", "desk", "hub", "point", "ly", " Portal"])

    def city(self) -> str:
        return self.rng.choice(CITIES) if self.rng.random() < 0.6 else self.faker.city()

    def person(self) -> str:
        """A new name most times, an already used one sometimes: real documents name the same people again."""
        if self._people and self.rng.random() < 0.25:
            return self.rng.choice(self._people)
        name = f"{self.faker.first_name()} {self.faker.last_name()}"
        if self.rng.random() < 0.15:
            name = f"{name}-{self.faker.last_name()}"
        if self.rng.random() < 0.05:
            name = f"Dr {name}"
        self._people.append(name)
        return name

    def n(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def num(self, low: int, high: int) -> str:
        return f"{self.rng.randint(low, high):,}"

    def money(self, low: int, high: int, step: int = 1, symbol: str | None = None) -> str:
        symbol = symbol or self.rng.choice(["£", "£", "£", "$", "€"])
        value = self.rng.randint(low // step, high // step) * step
        return f"{symbol}{value:,}"

    def money_pair(self, low: int, high: int, step: int = 1) -> tuple[str, str]:
        symbol = self.rng.choice(["£", "£", "$", "€"])
        old = self.rng.randint(low // step, high // step) * step
        new = old + self.rng.randint(1, max(2, old // (step * 5))) * step
        return f"{symbol}{old:,}", f"{symbol}{new:,}"

    def date(self, first: int = 2024, last: int = 2027) -> str:
        return f"{self.rng.randint(1, 28)} {self.rng.choice(MONTHS)} {self.rng.randint(first, last)}"

    def day_month(self) -> str:
        return f"{self.rng.randint(1, 28)} {self.rng.choice(MONTHS)}"

    def month_year(self, first: int = 2015, last: int = 2026) -> str:
        return f"{self.rng.choice(MONTHS)} {self.rng.randint(first, last)}"

    def hour(self, low: int, high: int) -> str:
        return f"{self.rng.randint(low, high):02d}:{self.rng.choice(['00', '00', '30'])}"

    def pick(self, options):
        return self.rng.choice(options)

    def version(self) -> str:
        return f"{self.n(1, 9)}.{self.n(0, 9)}"

