"""Path 1: the base model steered only by an engineered prompt."""

from __future__ import annotations

from fourpaths import prompts
from fourpaths.paths.base import AnswerPath, Job


class PromptPath(AnswerPath):
    id = "prompt"
    title = "Prompt engineering"
    summary = "The base model and a prompt template: no training, no documents."

    def prepare(self, question, settings, workspace) -> Job:
        base = workspace.base()
        extras = {}
        if settings.template == "few-shot":
            extras["examples"] = workspace.few_shot_examples(question, settings.few_shot_examples)
        messages = prompts.build_messages(settings.template, question, **extras)
        prompt, ids = self.render_within(base, messages, settings.max_new_tokens)
        facts = {"model": base.location, "parameters": base.parameters, "template": settings.template}
        return Job(self.id, base, None, messages, prompt, ids, facts=facts)
