"""Question variants for the LoRA recipe: neighbours from the shipped embedder's word table, seeded rewording."""

from __future__ import annotations

import random

import pytest

from fourpaths.retrieval.embedder import default_embedder_location
from fourpaths.training.question_variants import (
    OPENERS,
    question_variant,
    variable_words,
    word_neighbours,
)

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


def test_the_stream_rewords_about_seven_in_ten_question_appearances_and_keeps_their_answers():
    from fourpaths.config import PROJECT_ROOT
    from fourpaths.training import team_data

    root = PROJECT_ROOT / "corpus"
    _, questions = team_data.load_team_examples(root, short=True)
    stream = team_data.epoch_stream(questions, 0)

    def shout(text, rng):  # a variant whose work shows
        return text.upper()

    reworded = team_data._reworded(stream, questions, root, 0, shout)
    seen = [reworded(index) for index in range(400)]
    assert [e.messages for e in seen] == [reworded(index).messages for index in range(400)]  # resumable
    changed = [e for e, plain in zip(seen, map(stream, range(400))) if e.messages != plain.messages]
    assert 0.6 < len(changed) / len(seen) < 0.8
    assert all(e.messages[-1]["content"].isupper() for e in changed)
    assert [e.response for e in seen] == [stream(index).response for index in range(400)]
