"""Path 4: a tiny model trained from random weights on the team's data alone."""

from __future__ import annotations

from fourpaths import prompts
from fourpaths.models import read_training_summary
from fourpaths.paths.base import AnswerPath, Job


class ScratchPath(AnswerPath):
    id = "scratch"
    title = "Trained from scratch"
    summary = "A tiny model that has only ever read the team's documents and questions."

    def prepare(self, question, settings, workspace) -> Job:
        tiny = workspace.scratch()
        messages = prompts.zero_shot(question)
        prompt, ids = self.render_within(tiny, messages, settings.max_new_tokens)
        summary = read_training_summary(tiny.location)
        facts = {"model": tiny.location, "parameters": tiny.parameters,
                 **{key: summary[key] for key in ("tokens_trained", "steps", "train_seconds") if key in summary}}
        return Job(self.id, tiny, None, messages, prompt, ids, facts=facts)
