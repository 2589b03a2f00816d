"""Prompt engineering: the base model steered only by an engineered prompt."""

from __future__ import annotations

from fourpaths.answering import prompts
from fourpaths.answering.paths.interface import AnswerPath, Generation


class PromptPath(AnswerPath):
    id = "prompt"
    title = "Prompt engineering"
    short_title = "Prompt"  # in tables
    summary = "The base model and a prompt template: no training, no documents."

    def check_question(self, question, settings, workspace) -> None:
        if workspace.endpoint(self.id) is None:  # an endpoint's model says itself what it cannot read
            self._render(question, settings, workspace, self._messages(question, settings, workspace))

    @staticmethod
    def _messages(question, settings, workspace) -> list[dict]:
        extras = {}
        if settings.template == "few-shot":
            extras["examples"] = workspace.few_shot_examples(question, settings.few_shot_examples)
        return prompts.build_messages(settings.template, question, **extras)

    @staticmethod
    def _render(question, settings, workspace, messages):
        from fourpaths.answering import engine  # torch loads on the first answer, not with the registry

        base = workspace.base()
        return base, *engine.render(base, messages, settings.max_new_tokens)

    def answer(self, question, settings, workspace) -> Generation:
        from fourpaths.answering import engine
        from fourpaths.answering.constraints import NoNewNames, OneSentence

        messages = self._messages(question, settings, workspace)
        served = workspace.endpoint(self.id)
        if served is not None:  # the constraints are logits processors: they run in a local generate only
            served.check_model(settings.endpoint_model, "endpoint_model")
            facts = {"template": settings.template, "engine": f"endpoint {served.url}",
                     "constraint": "none (the endpoint generates)"}
            return Generation.served(served, settings.endpoint_model, messages, facts=facts)
        base, text, ids = self._render(question, settings, workspace, messages)
        constraints = []
        if settings.prompt_constraints:
            constraints.append(NoNewNames(base.tokenizer, ids))
            ends = engine.end_ids(base)
            if ends:
                constraints.append(OneSentence(base.tokenizer, ends[0]))
        facts = {"template": settings.template, "parameters": base.parameters, "engine": "local",
                 "constraint": "names only what the prompt names; one sentence" if constraints else "none"}
        return Generation(base, text, ids, logits_processors=constraints, facts=facts)
