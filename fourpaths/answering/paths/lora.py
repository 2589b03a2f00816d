"""Fine-tuning: a small LoRA adapter trained on the team's data.

The adapter's own config says what it is: an answer head (PEFT SEQ_CLS on the embedder, picking among the
answers it was taught), or a generative adapter on the configured base (a causal or encoder-decoder model)."""

from __future__ import annotations

from fourpaths.answering import prompts
from fourpaths.answering.paths.interface import Answer, AnswerPath, Generation
from fourpaths.config import engine_of
from fourpaths.errors import FourpathsError


class LoraPath(AnswerPath):
    id = "lora"
    title = "Fine-tuned (LoRA)"
    short_title = "LoRA"  # in tables
    summary = "A pretrained model plus a small adapter trained on the team's data; knows what it was trained on."

    def check_question(self, question, settings, workspace) -> None:
        from fourpaths.answering import engine

        if workspace.lora_is_answer_head():
            workspace.answer_head().check_question(question)
        elif not settings.lora_adapter or workspace.endpoint(self.id) is not None:
            return  # answer() says what is missing; an endpoint's model says itself what it cannot read
        else:
            engine.render(workspace.base(), prompts.zero_shot(question), settings.max_new_tokens)

    def answer(self, question, settings, workspace) -> Generation | Answer:
        from fourpaths.answering import (
            engine,  # torch loads on the first answer, not with the registry
        )
        if workspace.lora_is_answer_head():
            head = workspace.answer_head()
            pick = head.answer(question)
            facts = {"picks among": f"{len(head.answers)} answers it was taught",
                     "alternatives": [f"{text} ({score:.2f})" for text, score in pick.alternatives],
                     "threshold": head.threshold}
            if engine_of(settings, self.id) == "openai":
                facts["engine"] = "local (an answer head picks, it does not generate: no endpoint can run it)"
            return Answer(pick.text, head.location, question, "answer head", round(pick.score, 4), pick.answered,
                          facts=facts, confidence=round(pick.score, 4))
        served = workspace.endpoint(self.id)  # it needs no adapter folder here: the endpoint holds the adapter
        if served is not None:
            if not settings.endpoint_adapter:
                raise FourpathsError("the LoRA path runs on the endpoint but endpoint_adapter (the adapter's served "
                                     "name) is empty")
            served.check_model(settings.endpoint_adapter, "endpoint_adapter")
            facts = {"adapter": f"{settings.endpoint_adapter} (served)", "engine": f"endpoint {served.url}"}
            return Generation.served(served, settings.endpoint_adapter, prompts.zero_shot(question), facts=facts)
        if not settings.lora_adapter:
            raise FourpathsError("no LoRA adapter configured (setting lora_adapter is empty)")
        base = workspace.base()
        if base.adapter_error:
            raise FourpathsError(base.adapter_error)
        text, ids = engine.render(base, prompts.zero_shot(question), settings.max_new_tokens)
        facts = {"adapter": base.adapter_location, "parameters": base.parameters, "engine": "local",
                 **base.adapter_facts}
        return Generation(base, text, ids, adapter=engine.ADAPTER_NAME, facts=facts)
