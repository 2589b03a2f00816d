"""The four ways of answering, behind one interface. A fifth is one new module and one line in PATHS."""

from fourpaths.answering.paths.interface import Answer, AnswerPath, Generation
from fourpaths.answering.paths.lora import LoraPath
from fourpaths.answering.paths.prompt import PromptPath
from fourpaths.answering.paths.rag import RagPath
from fourpaths.answering.paths.scratch import ScratchPath

PATHS: dict[str, AnswerPath] = {a.id: a for a in (PromptPath(), LoraPath(), RagPath(), ScratchPath())}
PATH_IDS = tuple(PATHS)
SHORT_TITLES = {path_id: path.short_title for path_id, path in PATHS.items()}

__all__ = ["Answer", "AnswerPath", "Generation", "PATHS", "PATH_IDS", "SHORT_TITLES"]
