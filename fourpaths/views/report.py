"""A stand-alone HTML report of a session's questions, to leave with a stakeholder: every question with the
settings it was asked under, each path's answer, its mark against the reference, its confidence, its timings
and its sources, and a latency chart drawn as inline SVG. One file, no script, no link to load: it reads the
same offline. Every text a user, a document or a model wrote goes through html.escape.
"""

from __future__ import annotations

import time
from html import escape

from fourpaths.answering.paths import SHORT_TITLES
from fourpaths.types import CONFIDENCE_MEANINGS, Trace
from fourpaths.views.scoreboard import split_title
from fourpaths.views.session import MARKS_MEANING, Asked

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.8rem; } h2 { font-size: 1.3rem; margin-top: 2.5rem; border-top: 1px solid #ccc; padding-top: 1rem; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.4rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.answer { font-size: 1.15rem; } .small { color: #666; font-size: 0.85rem; }
.right { color: #1a7f37; } .partly-right { color: #b35900; } .wrong, .error { color: #c62828; }
.abstained { color: #555; } ul { margin: 0; padding-left: 1.1rem; }
"""
BAR_COLOURS = {"first token": "#0068c9", "total": "#83c9ff"}


def session_report(entries: list[Asked], title: str = "fourpaths: the session's questions") -> str:
    """The whole report as one HTML document."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{escape(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{escape(title)}</h1>",
             f'<p class="small">Written {escape(time.strftime("%Y-%m-%d %H:%M"))} by fourpaths; '
             f"{len(entries)} question{'s' if len(entries) != 1 else ''}. {escape(MARKS_MEANING)}</p>"]
    if not entries:
        parts.append("<p>No question was asked in this session.</p>")
    for number, asked in enumerate(entries, start=1):
        parts += _question(number, asked)
    parts += ["<h2>What the confidence measures</h2>", "<ul>"]
    parts += [f"<li><b>{escape(mode)}</b>: {escape(meaning)}</li>" for mode, meaning in CONFIDENCE_MEANINGS.items()]
    parts += ["</ul>", "</body></html>"]
    return "\n".join(parts)


def _question(number: int, asked: Asked) -> list[str]:
    lines = [f"<h2>{number}. {escape(asked.question)}</h2>",
             f'<p class="small">Asked {escape(asked.asked_at)} with {escape(asked.settings)}'
             + (f"; documents added: {escape(', '.join(asked.documents_added))}" if asked.documents_added else "")
             + f"; from Ask to the last answer {asked.wall_ms:.0f} ms.</p>"]
    if asked.reference is not None:
        reference = asked.reference.answer or "(none: no document answers this)"
        lines.append(f"<p>Reference: <b>{escape(reference)}</b> <span class=\"small\">({escape(asked.reference.id)}, "
                     f"{escape(split_title(asked.reference.split))}"
                     + (f", {escape(asked.reference.source)}" if asked.reference.source else "") + ")</span></p>")
    marks = asked.marks()
    lines.append("<table><tr><th>path</th><th>answer</th><th>mark</th><th>confidence</th><th>timings</th>"
                 "<th>sources</th></tr>")
    for path_id, result in asked.results.items():
        mark = marks.get(path_id)
        mark_cell = (f'<span class="{mark.state.replace(" ", "-")}">{escape(mark.label)}</span>'
                     f'<div class="small">{escape(mark.why)}</div>' if mark else "–")
        if isinstance(result, str):
            lines.append(f"<tr><td>{escape(path_id)}</td><td class=\"error\">{escape(result)}</td><td>{mark_cell}</td>"
                         "<td>–</td><td>–</td><td>–</td></tr>")
            continue
        lines.append(f"<tr><td>{escape(result.title)}<div class=\"small\">{escape(result.mode)}</div></td>"
                     f"<td class=\"answer\">{escape(result.text or '(empty answer)')}</td><td>{mark_cell}</td>"
                     f"<td>{_confidence(result)}</td><td>{escape(timings(result))}</td>"
                     f"<td>{_sources(result)}</td></tr>")
    lines.append("</table>")
    traces = asked.traces()
    if traces:
        lines.append(latency_svg(traces))
    return lines


def timings(trace: Trace) -> str:
    """First token, total and (for a generated answer) tokens/s, in one line."""
    text = f"first token {trace.ttft_ms:.0f} ms, total {trace.total_ms:.0f} ms"
    return text + (f", {trace.tokens_per_s:.1f} tokens/s" if trace.new_tokens else "")


def _confidence(trace: Trace) -> str:
    if trace.confidence is None:
        return "–"
    return f'<span title="{escape(trace.confidence_meaning)}">{trace.confidence:.2f}</span>'


def _sources(trace: Trace) -> str:
    if not trace.sources:
        return "–"
    items = "".join(f"<li>[{n}] {escape(source.source)} <span class=\"small\">{source.score:.3f}</span></li>"
                    for n, source in enumerate(trace.sources, start=1))
    return f"<ul>{items}</ul>"


def latency_svg(traces: dict[str, Trace], width: int = 640, bar: int = 12) -> str:
    """Time to first token and total per path as horizontal bars, an inline SVG scaled to the slowest total."""
    label_w, right_w, gap = 90, 70, 8
    longest = max((max(t.total_ms, t.ttft_ms) for t in traces.values()), default=0.0) or 1.0
    scale = (width - label_w - right_w) / longest
    row = 2 * bar + gap
    height = row * len(traces) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="latency per path" font-family="sans-serif" font-size="12">']
    for i, trace in enumerate(traces.values()):
        y = i * row
        parts.append(f'<text x="0" y="{y + bar + 4}">{escape(SHORT_TITLES.get(trace.path, trace.path))}</text>')
        for j, (name, value) in enumerate((("first token", trace.ttft_ms), ("total", trace.total_ms))):
            w = max(1.0, value * scale)
            parts.append(f'<rect x="{label_w}" y="{y + j * bar}" width="{w:.1f}" height="{bar - 2}" '
                         f'fill="{BAR_COLOURS[name]}"><title>{name}: {value:.0f} ms</title></rect>')
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + j * bar + bar - 3}">{value:.0f} ms</text>')
    legend_y = row * len(traces) + 16
    for k, (name, colour) in enumerate(BAR_COLOURS.items()):
        x = label_w + k * 140
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{legend_y}">{name} (ms)</text>')
    parts.append("</svg>")
    return "".join(parts)
