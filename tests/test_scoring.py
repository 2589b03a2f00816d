"""Scoring rules on the real corpus: normalisation, the 40-word window, strict, token F1, abstention and invented
names."""

from __future__ import annotations

import re

import pytest

from fourpaths.config import PROJECT_ROOT
from fourpaths.measure.scoring import (
    abstains,
    contains_answer,
    invented_entities,
    normalise,
    strict,
    token_f1,
    vocabulary,
)
from fourpaths.retrieval.corpus import SPLITS, load_documents, load_questions

CORPUS = PROJECT_ROOT / "corpus"
# What the four paths say when they do not know (the plan's three replies), and close variants.
ABSTENTIONS = [
    "The documents do not answer this.",
    "I was not taught this.",
    "I don't know.",
    "I do not know the answer.",
    "The passages do not say.",
    "The passages don't say.",
    "The document does not say.",
    "That is not in the documents.",
    "Sorry, I cannot answer that.",
    "I don't know. I have no information about the Zorblat.",
]


@pytest.fixture(scope="module")
def documents():
    return load_documents(CORPUS)


@pytest.fixture(scope="module")
def answerable():
    return [item for split in ("train", "eval_seen", "eval_unseen") for item in load_questions(CORPUS, split)]


def test_normalise_lowercases_strips_punctuation_and_collapses_space():
    assert normalise("  The Ferret costs £24,500!\n") == "the ferret costs 24 500"


def test_reference_must_be_within_the_first_40_words_as_whole_words():
    assert contains_answer("It is 27 days a year.", "27 days")
    assert not contains_answer("It is 127 days a year.", "27 days")
    assert not contains_answer("word " * 40 + "27 days", "27 days")
    assert contains_answer("word " * 38 + "27 days", "27 days")
    assert not contains_answer("anything", "")


def test_token_f1():
    assert token_f1("27 days", "27 days") == 1.0
    assert token_f1("", "27 days") == 0.0
    assert round(token_f1("staff get 27 days", "27 days"), 3) == round(2 * 0.5 * 1 / 1.5, 3)


def test_strict_reference_inside_a_short_answer():
    reference = "27 days a year plus public holidays"  # 7 words: an answer may hold at most 21
    assert strict("27 days a year plus public holidays", reference)
    assert strict("Every full-time employee receives 27 days a year plus public holidays.", reference)
    assert strict(" ".join(["word"] * 14) + " 27 days a year plus public holidays", reference)  # 21 words
    assert not strict(" ".join(["word"] * 15) + " 27 days a year plus public holidays", reference)  # 22
    assert not strict("It is 127 days a year plus public holidays", reference)


def test_strict_answer_inside_the_reference_needs_half_its_words():
    reference = "27 days a year plus public holidays"
    assert strict("27 days a year", reference)  # 4 of 7 words
    assert not strict("27 days", reference)  # 2 of 7
    assert not strict("days a year", reference)  # 3 of 7: less than half
    assert strict("31 March", "31 March")
    assert not strict("March", "31 March 2026")


def test_strict_is_false_for_empty_answer_or_reference():
    assert not strict("", "27 days")
    assert not strict("27 days", "")
    assert not strict("", "")


def test_every_reference_is_strictly_its_own_answer_and_fits_a_short_sentence(answerable):
    for item in answerable:
        assert strict(item.answer, item.answer), item.id
        assert strict(f"It is {item.answer}.", item.answer), item.id  # 3 words for a 1-word reference
        assert contains_answer(f"The answer is {item.answer}.", item.answer), item.id


def test_the_paths_abstentions_are_recognised():
    for reply in ABSTENTIONS:
        assert abstains(reply), reply


def test_answers_are_not_abstentions(answerable):
    assert not abstains("")
    assert not abstains("27 days a year plus public holidays")
    assert not abstains("A Keyfob prompt expires after 60 seconds if you do not answer it.")
    for item in answerable:
        assert not abstains(item.answer), item.id


def test_no_sentence_of_the_corpus_reads_as_an_abstention(documents):
    """Quoting a document must never count as saying the documents do not know."""
    for document in documents:
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", document.text):
            assert not abstains(sentence), f"{document.source}: {sentence!r}"


def test_abstention_is_judged_on_the_start_of_the_answer():
    quote = " ".join(["word"] * 25) + " and staff who do not know should ask"
    assert not abstains(quote)


def test_invented_entities_against_the_training_vocabulary(documents):
    known = vocabulary(document.text for document in documents if document.collection == "docs")
    question = "How much annual leave does a full-time Quillmoor employee receive each year?"
    assert invented_entities("Quillmoor staff get 27 days a year.", question, known) == []
    assert invented_entities("I don't know.", question, known) == []
    assert invented_entities("Ask Fenwick Osei in Leeds.", question, known) == []  # names in docs/
    invented = invented_entities("Zorblat Quux of Zorblat decides; The Zorblat rules.", question, known)
    assert invented == ["Zorblat", "Quux"]  # each once, in order; "The" and "of" are known words


def test_invented_entities_accepts_what_the_question_names():
    question = "Who is the Head of Zanzibar Operations at Quillmoor?"
    assert invented_entities("The Zanzibar team is led by Ottoline.", question, {"the", "team", "is", "led", "by"}) \
        == ["Ottoline"]


def test_splits_cover_the_unanswerable_set():
    assert "eval_unanswerable" in SPLITS
