"""General English text found on any Python install, used only to give the tokenizer a broad vocabulary."""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path
from typing import Iterator


def stdlib_docstrings(min_words: int = 8) -> Iterator[str]:
    """Docstrings of the Python standard library: plain technical English, no knowledge-base facts."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if "test" in path.parts[-2:][0] or path.name.startswith("test"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                docstring = ast.get_docstring(node)
                if docstring and len(docstring.split()) >= min_words:
                    yield docstring
