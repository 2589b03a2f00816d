"""Path 2: the same base with a LoRA adapter fine-tuned on the team's question set and documents."""

from __future__ import annotations

from fourpaths import prompts
from fourpaths.errors import FourpathsError
from fourpaths.models import LORA_ADAPTER_NAME
from fourpaths.paths.base import AnswerPath, Job


class LoraPath(AnswerPath):
    id = "lora"
    title = "Fine-tuned (LoRA)"
    summary = "The base plus a small adapter trained on the team's data; knows what it was trained on."

    def prepare(self, question, settings, workspace) -> Job:
        base = workspace.base()
        if base.adapter_error:
            raise FourpathsError(base.adapter_error)
        if not base.adapter_location:
            raise FourpathsError("no LoRA adapter configured (setting lora_adapter is empty)")
        messages = prompts.zero_shot(question)
        prompt, ids = self.render_within(base, messages, settings.max_new_tokens)
        facts = {"model": base.location, "adapter": base.adapter_location, "parameters": base.parameters,
                 **base.adapter_facts}
        return Job(self.id, base, LORA_ADAPTER_NAME, messages, prompt, ids, facts=facts)
