"""RAG: passages retrieved from the team's documents, read by an extractive reader (or placed in the base's
prompt, when the base is a model that can write an answer from them)."""

from __future__ import annotations

import time

from fourpaths.answering import prompts
from fourpaths.answering.paths.interface import Answer, AnswerPath, Generation
from fourpaths.config import engine_of
from fourpaths.errors import FourpathsError
from fourpaths.types import Source

DOCUMENTS_DO_NOT_ANSWER = "The documents do not answer this."
MODES = {"reader": "extractive reader", "generated": "generated"}


def rag_mode(settings, workspace) -> str:
    """"reader" or "generated": `auto` has a served model write the answer (endpoint engine) or a hub base that
    loads (an instruction-tuned one can write it from the passages); otherwise the extractive reader reads, so a
    hub base that cannot be fetched never takes the RAG column down with it."""
    if settings.rag_answer != "auto":
        return settings.rag_answer
    if engine_of(settings, "rag") == "openai":
        return "generated"
    return "generated" if not workspace.base_is_local() and workspace.base_loads() else "reader"


class RagPath(AnswerPath):
    id = "rag"
    title = "RAG"
    short_title = "RAG"  # in tables
    summary = "Passages retrieved from the documents (updates included), and the answer read from them."

    def check_question(self, question, settings, workspace) -> None:
        from fourpaths.answering import engine

        if rag_mode(settings, workspace) == "generated":  # with no passage: the least the prompt can be
            if workspace.endpoint(self.id) is not None:
                return  # an endpoint's model says itself what it cannot read
            base = workspace.base()
            engine.render(base, prompts.with_passages(question, [], prompts.control_tokens(base.tokenizer)),
                          settings.max_new_tokens)
        else:
            workspace.reader().check_question(question)

    def answer(self, question, settings, workspace) -> Generation | Answer:
        started = time.perf_counter()
        hits = workspace.searcher().search(question, settings.top_k_passages)
        sources = [Source(hit.source, round(float(hit.score), 4), hit.text) for hit in hits]
        facts = {"retrieval": settings.retrieval, "top_k": settings.top_k_passages,
                 "retrieval_ms": round(1000 * (time.perf_counter() - started), 1)}
        if rag_mode(settings, workspace) == "generated":
            return self._generation(question, sources, settings, workspace, facts)
        reader = workspace.reader()
        relevance = max((source.score for source in sources), default=0.0)
        facts["relevance"] = round(relevance, 4)
        facts["threshold"] = reader.threshold
        if engine_of(settings, self.id) == "openai":
            facts["engine"] = "local (the extractive reader picks a span, it does not generate: no endpoint runs it)"
        span = None
        if relevance < settings.rag_min_relevance:  # no passage is about the question: nothing to read
            facts["gate"] = f"best cosine {relevance:.2f} < rag_min_relevance {settings.rag_min_relevance}"
        else:
            span = reader.read(question, [source.text for source in sources], workspace.embed)
            if reader.sentence_weight:
                facts["reading"] = (f"sentence by sentence: margin + {reader.sentence_weight:g} x the sentence's "
                                    f"cosine ({span.bonus / reader.sentence_weight:.2f} for this one)")
        if span is not None and span.answered:
            text = span.text
            passage = sources[span.passage].text
            facts["cited"] = f"[{span.passage + 1}] {sources[span.passage].source}"
            facts["sentence"] = _sentence_with_span(passage, span.start, span.end)
        else:
            text = DOCUMENTS_DO_NOT_ANSWER
        passages = "\n".join(f"[{i + 1}] {s.text}" for i, s in enumerate(sources))
        return Answer(text, reader.location, f"Question: {question}\n\nPassages:\n{passages}", MODES["reader"],
                      round(span.decision, 4) if span is not None else None, bool(span and span.answered), sources,
                      facts, confidence=round(span.probability, 4) if span is not None else None)

    @staticmethod
    def _generation(question, sources, settings, workspace, facts) -> Generation:
        from fourpaths.answering import (
            engine,  # torch loads on the first answer, not with the registry
        )
        passages = [prompts.Passage(i + 1, s.source, prompts.one_line(s.text)) for i, s in enumerate(sources)]
        served = workspace.endpoint("rag")
        if served is not None:  # the endpoint's context length is its own: every passage goes, it refuses if too long
            served.check_model(settings.endpoint_model, "endpoint_model")
            facts.update(passages_in_prompt=len(passages), engine=f"endpoint {served.url}")
            return Generation.served(served, settings.endpoint_model, prompts.with_passages(question, passages),
                                     sources=sources, facts=facts, mode=MODES["generated"])
        base = workspace.base()
        tokens = prompts.control_tokens(base.tokenizer)  # kept text inside the passages: no document opens a turn
        for count in range(len(passages), 0, -1):  # the best passages that fit the model's positions
            try:
                text, ids = engine.render(base, prompts.with_passages(question, passages[:count], tokens),
                                          settings.max_new_tokens)
                break
            except FourpathsError:
                if count == 1:
                    raise
        facts["passages_in_prompt"] = count
        return Generation(base, text, ids, sources=sources[:count], facts=facts, mode=MODES["generated"])


def _sentence_with_span(passage: str, start: int, end: int) -> str:
    """The sentence around the span, the span between » and «, as plain text."""
    left = max(passage.rfind(mark, 0, start) for mark in (". ", "? ", "! ", "\n"))
    right_candidates = [i for i in (passage.find(mark, end) for mark in (". ", "? ", "! ", "\n")) if i >= 0]
    right = min(right_candidates) + 1 if right_candidates else len(passage)
    begin = left + 2 if left >= 0 else 0
    return f"{passage[begin:start]}»{passage[start:end]}«{passage[end:right]}".strip()
