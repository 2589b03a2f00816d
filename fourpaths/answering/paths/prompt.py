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
        self._render(question, settings, workspace)

    @staticmethod
    def _render(question, settings, workspace):
        from fourpaths.answering import engine  # torch loads on the first answer, not with the registry

        base = workspace.base()
        extras = {}
        if settings.template == "few-shot":
            extras["examples"] = workspace.few_shot_examples(question, settings.few_shot_examples)
        messages = prompts.build_messages(settings.template, question, **extras)
        return base, *engine.render(base, messages, settings.max_new_tokens)

    def answer(self, question, settings, workspace) -> Generation:
        from fourpaths.answering import engine
        from fourpaths.answering.constraints import NoNewNames, OneSentence

        base, text, ids = self._render(question, settings, workspace)
        constraints = [NoNewNames(base.tokenizer, ids)]
        ends = engine.end_ids(base)
        if ends:
            constraints.append(OneSentence(base.tokenizer, ends[0]))
        facts = {"template": settings.template, "parameters": base.parameters,
                 "constraint": "names only what the prompt names; one sentence"}
        return Generation(base, text, ids, logits_processors=constraints, facts=facts)
