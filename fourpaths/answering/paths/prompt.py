"""Prompt engineering: the base model steered only by an engineered prompt."""

from __future__ import annotations

from fourpaths.answering import prompts
from fourpaths.answering.paths.interface import AnswerPath, Generation


class PromptPath(AnswerPath):
    id = "prompt"
    title = "Prompt engineering"
    short_title = "Prompt"  # in tables
    summary = "The base model and a prompt template: no training, no documents."

    def answer(self, question, settings, workspace) -> Generation:
        from fourpaths.answering import (
            engine,  # torch loads on the first answer, not with the registry
        )
        from fourpaths.answering.constraints import NoNewNames, OneSentence
        extras = {}
        if settings.template == "few-shot":
            extras["examples"] = workspace.few_shot_examples(question, settings.few_shot_examples)
        messages = prompts.build_messages(settings.template, question, **extras)
        served = workspace.endpoint(self.id)
        if served is not None:  # the constraints are logits processors: they run in a local generate only
            served.check_model(settings.endpoint_model, "endpoint_model")
            facts = {"template": settings.template, "engine": f"endpoint {served.url}",
                     "constraint": "none (the endpoint generates)"}
            return Generation.served(served, settings.endpoint_model, messages, facts=facts)
        base = workspace.base()
        text, ids = engine.render(base, messages, settings.max_new_tokens)
        constraints = []
        if settings.prompt_constraints:
            constraints.append(NoNewNames(base.tokenizer, ids))
            ends = engine.end_ids(base)
            if ends:
                constraints.append(OneSentence(base.tokenizer, ends[0]))
        facts = {"template": settings.template, "parameters": base.parameters, "engine": "local",
                 "constraint": "names only what the prompt names; one sentence" if constraints else "none"}
        return Generation(base, text, ids, logits_processors=constraints, facts=facts)
