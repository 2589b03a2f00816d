"""The four ways of answering, behind one interface. A fifth is one new module and one line in APPROACHES."""

from fourpaths.approaches.base import Answer, Approach, Generation
from fourpaths.approaches.lora import LoraApproach
from fourpaths.approaches.prompt import PromptApproach
from fourpaths.approaches.rag import RagApproach
from fourpaths.approaches.scratch import ScratchApproach

APPROACHES: dict[str, Approach] = {a.id: a for a in (PromptApproach(), LoraApproach(), RagApproach(), ScratchApproach())}
APPROACH_IDS = tuple(APPROACHES)

__all__ = ["Answer", "Approach", "Generation", "APPROACHES", "APPROACH_IDS"]
