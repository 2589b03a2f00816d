"""Question variants for the LoRA recipe: neighbours from the shipped embedder's word table, seeded rewording."""

from __future__ import annotations

import random

import pytest

from fourpaths.retrieval import default_embedder_location
from fourpaths.training.question_variants import OPENERS, question_variant, variable_words, word_neighbours

QUESTION = "How many days of annual leave does a full-time Quillmoor employee receive each year?"


@pytest.fixture(scope="module")
def neighbours():
    return word_neighbours(variable_words([QUESTION, "Can staff purchase extra leave?"]),
                           default_embedder_location())


def test_content_words_are_variable_and_question_words_are_not():
    assert {"annual", "leave", "employee", "receive"} <= variable_words([QUESTION])
    assert not {"how", "does", "each", "Quillmoor", "many"} & variable_words([QUESTION])


def test_neighbours_come_from_the_embedders_word_table(neighbours):
    assert "yearly" in neighbours["annual"]
    assert "buy" in neighbours["purchase"]
    assert all(word not in near for word, near in neighbours.items())


def test_a_variant_is_seeded_and_says_only_the_questions_words_or_their_neighbours(neighbours):
    variants = [question_variant(QUESTION, random.Random(seed), neighbours) for seed in range(20)]
    assert variants == [question_variant(QUESTION, random.Random(seed), neighbours) for seed in range(20)]
    assert len(set(variants)) > 10, "different seeds should reword differently"
    allowed = set(QUESTION.rstrip("?").split()) | {word for near in neighbours.values() for word in near}
    allowed |= {word.rstrip(":") for opener in OPENERS for word in opener.split()}
    for variant in variants:
        assert variant.endswith("?")
        assert set(variant.rstrip("?").replace(":", "").split()) <= allowed, variant
    assert any("yearly" in variant or "annually" in variant for variant in variants)


def test_answer_contexts_cut_the_answer_out_of_its_sentences_under_their_heading():
    from pathlib import Path

    from fourpaths.corpus import Document, QAItem
    from fourpaths.training.team_data import answer_contexts

    document = Document("leave.md", Path("leave.md"), "# Annual leave\n\n## How much leave you get\n\n"
                        "Every full-time employee receives **27 days a year**. Part-timers get a share.\n\n"
                        "## Carry-over\n\n- Limit: 27 days a year, never more.\n", "docs")
    item = QAItem("t-1", "How much leave?", "27 days a year", "docs/leave.md", "train", 1)
    assert answer_contexts(item, document) == ["How much leave you get: Every full-time employee receives",
                                               "Carry-over: Limit: , never more"]  # a stray comma: noise
    assert answer_contexts(QAItem("t-2", "?", "31 March", "docs/leave.md", "train", 2), document) == []


def test_reworded_questions_start_from_document_contexts_only_when_asked():
    from fourpaths.config import PROJECT_ROOT
    from fourpaths.training import team_data

    root = PROJECT_ROOT / "corpus"
    _, questions = team_data.load_team_examples(root, short=True)
    stream = team_data.epoch_stream(questions, 0)

    def keeps_the_words(text, rng):  # a variant that changes nothing, so each text's origin shows
        return text

    def said(context_share):
        reworded = team_data._reworded(stream, questions, root, 0, keeps_the_words, context_share)
        return [reworded(index).messages[0]["content"] for index in range(300)]

    asked = {example.messages[0]["content"] for example in questions}
    assert set(said(0.0)) <= asked
    from_documents = [text for text in said(1.0) if text not in asked]
    assert len(from_documents) > 100  # ~70% of 300 are reworded, and nearly every answer has a context
    assert all(":" in text for text in from_documents[:20])  # "Heading: sentence without the answer"
