"""Evidence sentences: the embedder ranks the passages' sentences against the question."""

from __future__ import annotations

import pytest

from fourpaths.evidence import KEYWORD_WEIGHT, rank_sentences
from fourpaths.quoting import Sentence
from fourpaths.retrieval import default_embedder_location, embed_texts, load_embedder

SENTENCES = [
    Sentence(10, 1, "Leave Policy > Carry-over: ", "You may carry over at most 5 days."),
    Sentence(20, 1, "Leave Policy > Carry-over: ", "Carried days expire on 31 March."),
    Sentence(30, 2, "Ferret AMR > Price: ", "List price: £38,500 per unit."),
    Sentence(40, 2, "Ferret AMR > Price: ", "The warranty runs for 2 years."),
]


@pytest.fixture(scope="module")
def embed():
    embedder = load_embedder(default_embedder_location())
    return lambda texts: embed_texts(embedder, list(texts))


@pytest.mark.parametrize("question, best", [("What does a Ferret robot cost?", 30),
                                            ("When do carried-over leave days expire?", 20),
                                            ("How long is the Ferret warranty?", 40)])
def test_the_sentence_that_answers_ranks_first(embed, question, best):
    ranked = rank_sentences(embed, question, SENTENCES)
    assert ranked[0].sentence.start == best
    assert [item.score for item in ranked] == sorted((item.score for item in ranked), reverse=True)
    assert sorted(item.sentence.start for item in ranked) == [10, 20, 30, 40]


def test_a_score_is_the_cosine_with_the_heading_plus_the_share_of_question_words(embed):
    question = "warranty years"
    ranked = {item.sentence.start: item.score for item in rank_sentences(embed, question, SENTENCES)}
    vectors = embed([question, "Ferret AMR > Price: The warranty runs for 2 years."])
    assert ranked[40] == pytest.approx(float(vectors[1] @ vectors[0]) + KEYWORD_WEIGHT * 1.0, abs=1e-5)
    vectors = embed([question, "Leave Policy > Carry-over: You may carry over at most 5 days."])
    assert ranked[10] == pytest.approx(float(vectors[1] @ vectors[0]), abs=1e-5)  # neither word: cosine alone


def test_no_sentences_rank_to_nothing(embed):
    assert rank_sentences(embed, "anything", []) == []
