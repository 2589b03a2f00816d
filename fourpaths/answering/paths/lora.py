"""Fine-tuning: a small LoRA adapter trained on the team's data.

The adapter's own config says what it is: an answer head (PEFT SEQ_CLS on the embedder, picking among the
answers it was taught), or a generative adapter on the configured base (a causal or encoder-decoder model)."""

from __future__ import annotations

from fourpaths.answering import prompts
from fourpaths.answering.paths.interface import Answer, AnswerPath, Generation
from fourpaths.errors import FourpathsError


class LoraPath(AnswerPath):
    id = "lora"
    title = "Fine-tuned (LoRA)"
    short_title = "LoRA"  # in tables
    summary = "A pretrained model plus a small adapter trained on the team's data; knows what it was trained on."

    def check_question(self, question, settings, workspace) -> None:
        from fourpaths.answering import engine

        if not settings.lora_adapter:
            return  # answer() says so
        if workspace.lora_is_answer_head():
            workspace.answer_head().check_question(question)
        else:
            engine.render(workspace.base(), prompts.zero_shot(question), settings.max_new_tokens)

    def answer(self, question, settings, workspace) -> Generation | Answer:
        from fourpaths.answering import (
            engine,  # torch loads on the first answer, not with the registry
        )
        if not settings.lora_adapter:
            raise FourpathsError("no LoRA adapter configured (setting lora_adapter is empty)")
        if workspace.lora_is_answer_head():
            head = workspace.answer_head()
            pick = head.answer(question)
            facts = {"picks among": f"{len(head.answers)} answers it was taught",
                     "alternatives": [f"{text} ({score:.2f})" for text, score in pick.alternatives],
                     "threshold": head.threshold}
            return Answer(pick.text, head.location, question, "answer head", round(pick.score, 4), pick.answered,
                          facts=facts, confidence=round(pick.score, 4))
        base = workspace.base()
        if base.adapter_error:
            raise FourpathsError(base.adapter_error)
        text, ids = engine.render(base, prompts.zero_shot(question), settings.max_new_tokens)
        facts = {"adapter": base.adapter_location, "parameters": base.parameters, **base.adapter_facts}
        return Generation(base, text, ids, adapter=engine.ADAPTER_NAME, facts=facts)
