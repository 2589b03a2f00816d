"""Path 3: the base answering from passages retrieved from the team's documents."""

from __future__ import annotations

import time

from fourpaths import prompts
from fourpaths.errors import FourpathsError
from fourpaths.evidence import rank_sentences
from fourpaths.paths.base import AnswerPath, Job, Source, fits_positions
from fourpaths.quoting import quote_constraint


ANSWER_MODES = {"quote": "quote-only: each token continues a passage, shown as the document writes it",
                "free": "free: the base writes"}


class RagPath(AnswerPath):
    id = "rag"
    title = "RAG"
    summary = ("The base answering from passages found in the documents, updates included. By default it "
               "quotes them, citing, from the sentence retrieval ranks best.")
    prepare_in_lane = True  # its search and sentence ranking take ~50 ms a question, more than a short answer

    def load(self, settings, workspace) -> list:
        base = workspace.base()
        workspace.searcher()  # the index (built here on first use, with the caller's progress) and the embedder
        return [base]

    def prepare(self, question, settings, workspace) -> Job:
        base = workspace.base()
        started = time.perf_counter()
        # embedded once, for the search and for the evidence ranking both
        question_vector = workspace.index().embed_queries([question])[0]
        hits = workspace.searcher().search(question, settings.top_k_passages, vector=question_vector)
        retrieval_ms = 1000 * (time.perf_counter() - started)
        passages = [prompts.Passage(i + 1, hit.source, prompts.one_line(hit.text)) for i, hit in enumerate(hits)]
        quoting = settings.rag_answer == "quote"
        budget = settings.quote_max_new_tokens if quoting else settings.max_new_tokens
        kept, messages, prompt, ids = self._fit_passages(base, question, passages, budget)
        sources = [Source(hit.source, float(hit.score), hit.text) for hit in hits]
        facts = {"model": base.location, "parameters": base.parameters, "embedder": "all-MiniLM-L6-v2",
                 "retrieval": settings.retrieval,
                 "top_k": settings.top_k_passages, "passages_in_prompt": kept,
                 "retrieval_ms": round(retrieval_ms, 1), "answer": ANSWER_MODES[settings.rag_answer]}
        constraint = None
        if quoting:
            quote_began = time.perf_counter()
            constraint = self._quote_constraint(base, prompt, ids, passages[:kept], settings, facts)
            if constraint is not None and settings.evidence_sentences > 0:
                self._keep_evidence(constraint, question, question_vector, settings.evidence_sentences,
                                    workspace, facts)
            facts["quote_setup_ms"] = round(1000 * (time.perf_counter() - quote_began), 1)
        # all of it (search, prompt, evidence) is work before the first token, so time to first token counts it
        prepare_ms = 1000 * (time.perf_counter() - started)
        return Job(self.id, base, None, messages, prompt, ids, sources, facts, prepare_ms=prepare_ms,
                   constraint=constraint, max_new_tokens=budget if constraint else None)

    @staticmethod
    def _quote_constraint(base, prompt: str, ids: list[int], passages: list, settings, facts: dict):
        """The quote-only constraint, or None with the reason in the facts when this tokenizer cannot give one
        (a hub model with a slow tokenizer has no character offsets): the answer is then written freely."""
        try:
            return quote_constraint(base.tokenizer, prompt, ids, passages, settings.min_quote_sentences,
                                    cite_first=True)
        except FourpathsError as error:
            facts["answer"] = f"{ANSWER_MODES['free']} (quote-only unavailable: {error})"
            return None

    @staticmethod
    def _keep_evidence(constraint, question: str, question_vector, count: int, workspace, facts: dict) -> None:
        """Narrow the quote's starts to the `count` sentences the embedder ranks best; the anatomy lists the
        ranking's head, so a reader sees which sentences were near."""
        index = workspace.index()
        ranked = rank_sentences(lambda texts: index.embed_known(texts, {question: question_vector}), question,
                                constraint.sentences)
        constraint.keep_starts({item.sentence.start for item in ranked[:count]})
        facts["evidence_sentences"] = count
        facts["evidence_ranking"] = [item.as_fact() for item in ranked[:max(count, 3)]]

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
