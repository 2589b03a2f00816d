"""One question's answers as a file to take away: JSON (every trace in full) and Markdown (for a meeting)."""

from __future__ import annotations

import json
import time
from typing import Mapping

from fourpaths.types import Trace


def answers_json(question: str, results: Mapping[str, Trace | str]) -> str:
    answers = {path: (result.to_json() if isinstance(result, Trace) else {"path": path, "error": result})
               for path, result in results.items()}
    return json.dumps({"question": question, "asked": time.strftime("%Y-%m-%d %H:%M:%S"), "answers": answers},
                      indent=2, ensure_ascii=False)


def answers_markdown(question: str, results: Mapping[str, Trace | str]) -> str:
    lines = [f"# {_plain(question)}", "", f"Asked {time.strftime('%Y-%m-%d %H:%M')} in fourpaths.", ""]
    for path, result in results.items():
        if isinstance(result, str):
            lines += [f"## {path}", "", f"Error: {_plain(result)}", ""]
            continue
        lines += [f"## {result.title} ({result.mode})", "", _quoted(result.text or "(empty answer)"), "",
                  f"- model: `{result.model}`", f"- first token {result.ttft_ms:.0f} ms, total {result.total_ms:.0f} ms"]
        if result.new_tokens:
            lines.append(f"- {result.new_tokens} tokens, {result.tokens_per_s:.1f} tokens/s")
        if result.score is not None:
            lines.append(f"- score {result.score:.3f}")
        lines += [f"- source [{n}] `{s.source}` (score {s.score:.3f})" for n, s in enumerate(result.sources, 1)]
        lines.append("")
    return "\n".join(lines)


def _plain(text: str) -> str:
    return " ".join(text.split())


def _quoted(text: str) -> str:
    """Model output as a block quote of plain lines: what it says is data, not markup for the reader's viewer."""
    return "\n".join("> " + line.replace("<", "&lt;") for line in text.splitlines() or [""])
