"""RAG: passages retrieved from the team's documents, read by an extractive reader (or placed in the base's
prompt, when the base is a model that can write an answer from them)."""

from __future__ import annotations

import time

from fourpaths.answering import prompts
from fourpaths.answering.paths.interface import Answer, AnswerPath, Generation
from fourpaths.errors import FourpathsError
from fourpaths.types import Source

DOCUMENTS_DO_NOT_ANSWER = "The documents do not answer this."
MODES = {"reader": "extractive reader", "generated": "generated"}


def rag_mode(settings, workspace) -> str:
    """"reader" or "generated": `auto` reads with the extractive reader, unless the base is a hub model
    (an instruction-tuned one can write the answer itself)."""
    if settings.rag_answer != "auto":
        return settings.rag_answer
    return "reader" if workspace.base_is_local() else "generated"


class RagPath(AnswerPath):
    id = "rag"
    title = "RAG"
    short_title = "RAG"  # in tables
    summary = "Passages retrieved from the documents (updates included), and the answer read from them."

    def check_question(self, question, settings, workspace) -> None:
        from fourpaths.answering import engine

        if rag_mode(settings, workspace) == "generated":  # with no passage: the least the prompt can be
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
        span = reader.read(question, [source.text for source in sources])
        facts["threshold"] = reader.threshold
        if span.answered:
            text = span.text
            passage = sources[span.passage].text
            facts["cited"] = f"[{span.passage + 1}] {sources[span.passage].source}"
            facts["sentence"] = _sentence_with_span(passage, span.start, span.end)
        else:
            text = DOCUMENTS_DO_NOT_ANSWER
        passages = "\n".join(f"[{i + 1}] {s.text}" for i, s in enumerate(sources))
        return Answer(text, reader.location, f"Question: {question}\n\nPassages:\n{passages}", MODES["reader"],
                      round(span.score - span.null_score, 4), span.answered, sources, facts,
                      confidence=round(span.probability, 4))

    @staticmethod
    def _generation(question, sources, settings, workspace, facts) -> Generation:
        from fourpaths.answering import (
            engine,  # torch loads on the first answer, not with the registry
        )
        base = workspace.base()
        passages = [prompts.Passage(i + 1, s.source, prompts.one_line(s.text)) for i, s in enumerate(sources)]
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
