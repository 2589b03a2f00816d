"""Keyword (BM25) scoring and the hybrid ranking that fuses it with the FAISS dense ranking."""

from __future__ import annotations

import pytest
from conftest import QUESTIONS, write_corpus

from fourpaths.retrieval.corpus import chunk_document, load_documents
from fourpaths.retrieval.embedder import load_embedder, resolve_embedder_location
from fourpaths.retrieval.fusion import HybridSearcher
from fourpaths.retrieval.index import SearchIndex
from fourpaths.retrieval.keywords import KeywordIndex, words


def test_words_drop_stop_words_and_keep_amounts():
    assert words("What is the price of the Loomwork plan? £195 per robot") == ["price", "loomwork", "plan", "£195",
                                                                               "robot"]


def test_bm25_prefers_the_text_with_the_rare_query_word():
    index = KeywordIndex(["the hotel cap in London is £160 a night",
                          "the hotel booking tool opens at nine",
                          "train tickets are booked in Orbit"])
    scores = index.scores("What is the hotel cap in London?")
    assert scores.argmax() == 0
    assert scores[2] == 0  # no query word at all
    assert scores[0] > scores[1] > 0


def test_rare_words_weigh_more_than_common_ones():
    index = KeywordIndex(["robot robot alpha", "robot beta", "robot gamma", "robot delta"])
    assert index.idf("alpha") > index.idf("robot")


def test_an_empty_query_scores_nothing():
    assert not KeywordIndex(["some text"]).scores("the of a").any()


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> HybridSearcher:
    corpus = write_corpus(tmp_path_factory.mktemp("hybrid") / "corpus")
    chunks = [chunk for document in load_documents(corpus) for chunk in chunk_document(document)]
    index = SearchIndex.build(chunks, load_embedder(None), embedder_location=resolve_embedder_location(None))
    return HybridSearcher(index)


def test_hybrid_ranks_the_right_document_first(searcher: HybridSearcher):
    for question, source in QUESTIONS.items():
        hits = searcher.search(question, 3)
        assert hits[0].source == source, (question, hits)
        assert len(hits) == 3


def test_hybrid_hits_carry_their_cosine_similarity(searcher: HybridSearcher):
    question = next(iter(QUESTIONS))
    dense = {(hit.source, hit.chunk_index): hit.score for hit in searcher.index.search(question, len(searcher.index))}
    for hit in searcher.search(question, 3):
        assert hit.score == pytest.approx(dense[(hit.source, hit.chunk_index)])


def test_an_exact_keyword_lifts_a_chunk_the_embedder_ranks_low(searcher: HybridSearcher):
    # "docking" appears in one chunk only; a question built around it must find that chunk in the top 2
    hits = searcher.search("docking", 2)
    assert any("docking" in hit.text for hit in hits)


def test_k_beyond_the_index_returns_every_chunk_and_zero_returns_none(searcher: HybridSearcher):
    assert len(searcher.search("badge", 100)) == len(searcher.index)
    assert searcher.search("badge", 0) == []
