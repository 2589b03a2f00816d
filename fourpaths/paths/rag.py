"""Path 3: the base answering from passages retrieved from the team's documents."""

from __future__ import annotations

import time

from fourpaths import prompts
from fourpaths.paths.base import AnswerPath, Job, Source


class RagPath(AnswerPath):
    id = "rag"
    title = "RAG"
    summary = "The base reading the top passages found in the documents, updates included."

    def prepare(self, question, settings, workspace) -> Job:
        base = workspace.base()
        started = time.perf_counter()
        hits = workspace.searcher().search(question, settings.top_k_passages)
        retrieval_ms = 1000 * (time.perf_counter() - started)
        passages = [prompts.Passage(i + 1, hit.source, " ".join(hit.text.split())) for i, hit in enumerate(hits)]
        messages = prompts.with_passages(question, passages)
        prompt, ids = self.render(base, messages)
        sources = [Source(hit.source, float(hit.score), hit.text) for hit in hits]
        facts = {"model": base.location, "parameters": base.parameters, "embedder": "all-MiniLM-L6-v2",
                 "retrieval": settings.retrieval,
                 "top_k": settings.top_k_passages, "retrieval_ms": round(retrieval_ms, 1)}
        return Job(self.id, base, None, messages, prompt, ids, sources, facts, prepare_ms=retrieval_ms)
