"""The four paths behind one interface. A fifth path is one new module and one line in PATHS."""

from fourpaths.paths.base import AnswerPath, Job, Source
from fourpaths.paths.lora import LoraPath
from fourpaths.paths.prompt import PromptPath
from fourpaths.paths.rag import RagPath
from fourpaths.paths.scratch import ScratchPath

PATHS: dict[str, AnswerPath] = {path.id: path for path in (PromptPath(), LoraPath(), RagPath(), ScratchPath())}
PATH_IDS = tuple(PATHS)

__all__ = ["AnswerPath", "Job", "Source", "PATHS", "PATH_IDS"]
