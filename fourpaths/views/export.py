"""One question's answers as a file to take away: JSON (every trace in full) and Markdown (for a meeting)."""

from __future__ import annotations

import json
import re
import time
from typing import Mapping

from fourpaths.types import Trace


def answers_json(question: str, results: Mapping[str, Trace | str]) -> str:
    answers = {path: (result.to_json() if isinstance(result, Trace) else {"path": path, "error": result})
               for path, result in results.items()}
    return json.dumps({"question": question, "asked": time.strftime("%Y-%m-%d %H:%M:%S"), "answers": answers},
                      indent=2, ensure_ascii=False)


def answers_markdown(question: str, results: Mapping[str, Trace | str]) -> str:
    """The answers for a meeting. Every text a user, a document or a model wrote is escaped (one line) or fenced
    (answers), so a viewer that renders the file shows it as written: no HTML, image or link from it."""
    lines = [f"# {markdown_escaped(question)}", "", f"Asked {time.strftime('%Y-%m-%d %H:%M')} in fourpaths.", ""]
    for path, result in results.items():
        if isinstance(result, str):
            lines += [f"## {markdown_escaped(path)}", "", f"Error: {markdown_escaped(result)}", ""]
            continue
        lines += [f"## {result.title} ({result.mode})", "", fenced(result.text or "(empty answer)"), "",
                  f"- model: {markdown_escaped(result.model)}",
                  f"- first token {result.ttft_ms:.0f} ms, total {result.total_ms:.0f} ms"]
        if result.new_tokens:
            lines.append(f"- {result.new_tokens} tokens, {result.tokens_per_s:.1f} tokens/s")
        if result.score is not None:
            lines.append(f"- score {result.score:.3f}")
        lines += [f"- source [{n}] {markdown_escaped(s.source)} (score {s.score:.3f})"
                  for n, s in enumerate(result.sources, 1)]
        lines.append("")
    return "\n".join(lines)


# Characters that start Markdown, HTML or math inside a line (Streamlit's Markdown also reads $...$ as LaTeX,
# :red[...] as colour and a bare http:// as a link); a backslash before ASCII punctuation makes it a literal
# character in CommonMark.
# "." too: Streamlit links a bare www.example.md and takes the backslash of an escaped ":" after it into the link's
# text, where it shows ("www.example.md\: not found"); with the dots escaped, every escape stays in plain text.
_INLINE_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+!|~$&:.])")
# What makes a block only at the start of a line: a list item or rule (-), a heading underline (=), a numbered item.
_LINE_START_MARKUP = re.compile(r"^(?:[-=]|\d+(?=[.)]))")


def markdown_escaped(text: str) -> str:
    """`text` on one line, to show as itself inside Markdown (a heading, a caption, a message): every character
    that would make HTML, an image, a link, emphasis, math or a block is escaped."""
    line = _INLINE_MARKUP.sub(r"\\\1", " ".join(str(text).split()))
    return _LINE_START_MARKUP.sub(lambda m: m.group() + "\\" if m.group().isdigit() else "\\" + m.group(), line)


def fenced(text: str) -> str:
    """`text` as a fenced code block: shown verbatim, line breaks kept, nothing in it rendered. The fence is
    longer than any run of backticks in the text, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HEADING_OR_QUOTE = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?)", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)


def plain_text(markdown: str) -> str:
    """A document's Markdown as the text a reader sees: emphasis markers, heading marks, quote marks and link
    targets dropped, bullets as "•", inline code without its backticks. Shown with st.text (never rendered), so
    what is left of any markup stays text."""
    text = _LINK.sub(r"\1", markdown)
    text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), text)
    text = _HEADING_OR_QUOTE.sub("", text)
    text = _BULLET.sub(r"\1• ", text)
    return re.sub(r"`([^`]*)`", r"\1", text)
