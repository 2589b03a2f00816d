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


def test_a_natural_variant_is_seeded_and_says_it_the_way_people_ask():
    from fourpaths.training.question_variants import natural_variant, rewording

    variants = [natural_variant(QUESTION, random.Random(seed)) for seed in range(40)]
    assert variants == [natural_variant(QUESTION, random.Random(seed)) for seed in range(40)]
    assert len(set(variants)) > 20
    assert sum("Quillmoor" not in variant for variant in variants) >= 25  # people rarely name the company
    assert any(" I " in f" {variant} " or " i " in f" {variant} " for variant in variants)  # first person
    assert any(word in variant.lower() for variant in variants for word in ("holiday", "days off", "time off"))
    assert all("27 days" not in variant for variant in variants)  # a rewording never says the answer
    # The recipe's mix: natural_share of the calls natural, the rest question_variant
    only_natural, never_natural = rewording({}, natural_share=1.0), rewording({}, natural_share=0.0)
    rng = random.Random(5)
    rng.random()  # the mix draws once before the variant
    assert only_natural(QUESTION, random.Random(5)) == natural_variant(QUESTION, rng)
    rng = random.Random(5)
    rng.random()
    assert never_natural(QUESTION, random.Random(5)) == question_variant(QUESTION, rng, {})
