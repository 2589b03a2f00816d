"""Scoring rules: normalisation, the 40-word window, token F1, percentiles."""

from __future__ import annotations

from fourpaths.evaluation import percentile
from fourpaths.scoring import contains_answer, normalise, token_f1


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


def test_percentile():
    assert percentile([], 0.5) == 0.0
    assert percentile([5, 1, 3], 0.5) == 3
    assert percentile(list(range(1, 101)), 0.95) == 95
