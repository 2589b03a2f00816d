"""Path 3: the base answering from passages retrieved from the team's documents."""

from __future__ import annotations

import time

from fourpaths import prompts
from fourpaths.errors import FourpathsError
from fourpaths.paths.base import AnswerPath, Job, Source, fits_positions
from fourpaths.quoting import quote_constraint


ANSWER_MODES = {"quote": "quote-only: each token continues a passage, shown as the document writes it",
                "free": "free: the base writes"}


class RagPath(AnswerPath):
    id = "rag"
    title = "RAG"
    summary = "The base reading the top passages found in the documents, updates included."

    def prepare(self, question, settings, workspace) -> Job:
        base = workspace.base()
        started = time.perf_counter()
        hits = workspace.searcher().search(question, settings.top_k_passages)
        retrieval_ms = 1000 * (time.perf_counter() - started)
        passages = [prompts.Passage(i + 1, hit.source, prompts.one_line(hit.text)) for i, hit in enumerate(hits)]
        kept, messages, prompt, ids = self._fit_passages(base, question, passages, settings.max_new_tokens)
        sources = [Source(hit.source, float(hit.score), hit.text) for hit in hits]
        facts = {"model": base.location, "parameters": base.parameters, "embedder": "all-MiniLM-L6-v2",
                 "retrieval": settings.retrieval,
                 "top_k": settings.top_k_passages, "passages_in_prompt": kept,
                 "retrieval_ms": round(retrieval_ms, 1), "answer": ANSWER_MODES[settings.rag_answer]}
        quoting = settings.rag_answer == "quote"
        constraint = self._quote_constraint(base, prompt, ids, passages[:kept], facts) if quoting else None
        return Job(self.id, base, None, messages, prompt, ids, sources, facts, prepare_ms=retrieval_ms,
                   constraint=constraint)

    @staticmethod
    def _quote_constraint(base, prompt: str, ids: list[int], passages: list, facts: dict):
        """The quote-only constraint, or None with the reason in the facts when this tokenizer cannot give one
        (a hub model with a slow tokenizer has no character offsets): the answer is then written freely."""
        try:
            return quote_constraint(base.tokenizer, prompt, ids, passages)
        except FourpathsError as error:
            facts["answer"] = f"{ANSWER_MODES['free']} (quote-only unavailable: {error})"
            return None

    def _fit_passages(self, base, question: str, passages: list, max_new_tokens: int):
        """The prompt with as many of the top passages as fit the model's positions, best first.

        A model with learnt positions (512 for a BERT-style base) cannot read past its last one, so the
        lowest-ranked passages give way; the anatomy shows how many were kept."""
        for count in range(len(passages), 1, -1):
            messages = prompts.with_passages(question, passages[:count])
            prompt, ids = self.render(base, messages)
            if fits_positions(base, ids, max_new_tokens):
                return count, messages, prompt, ids
        messages = prompts.with_passages(question, passages[:1])  # the best alone, or a refusal with the reason
        return (len(passages[:1]), messages, *self.render_within(base, messages, max_new_tokens))
