"""Trained from scratch: a tiny model from random weights that has only read the team's data."""

from __future__ import annotations

from fourpaths.answering import prompts
from fourpaths.answering.paths.interface import AnswerPath, Generation
from fourpaths.training.summary import read_training_summary


class ScratchPath(AnswerPath):
    id = "scratch"
    title = "Trained from scratch"
    short_title = "Scratch"  # in tables
    summary = "A tiny model that has only ever read the team's documents and questions."

    def check_question(self, question, settings, workspace) -> None:
        from fourpaths.answering import engine

        engine.render(workspace.scratch(), prompts.zero_shot(question), settings.max_new_tokens)

    def answer(self, question, settings, workspace) -> Generation:
        from fourpaths.answering import (
            engine,  # torch loads on the first answer, not with the registry
        )
        tiny = workspace.scratch()
        text, ids = engine.render(tiny, prompts.zero_shot(question), settings.max_new_tokens)
        summary = read_training_summary(tiny.location)
        facts = {"parameters": tiny.parameters,
                 **{key: summary[key] for key in ("tokens_trained", "steps", "train_seconds") if key in summary}}
        return Generation(tiny, text, ids, facts=facts)
