"""The answer columns shared by the Compare and Fresh knowledge pages: one question through the four paths,
streamed side by side, then each answer's anatomy, the latency chart and the downloads."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from fourpaths.answering.paths import PATH_IDS, PATHS, SHORT_TITLES
from fourpaths.answering.pipeline import ask_stream
from fourpaths.errors import FourpathsError
from fourpaths.types import DoneEvent, ErrorEvent, TokenEvent, WaitEvent
from fourpaths.views.export import answers_json, answers_markdown, markdown_escaped

# A column is redrawn at most this often while it streams (and once more when it is done): each redraw is a
# message to the browser, built on the server's CPU that the decoding it shows also needs.
REDRAW_EVERY_S = 0.1


def show_scored_texts(title: str, items: list[tuple[str, str, float, str]]) -> None:
    """A title, a bar chart of the scores, then each text under its label: items are (chart label, label,
    score, text)."""
    st.markdown(title)
    st.bar_chart(pd.DataFrame({"score": [score for _, _, score, _ in items]},
                              index=[chart_label for chart_label, _, _, _ in items]), horizontal=True)
    for _, label, score, text in items:
        st.caption(f"{label} — score {score:.3f}, quoted passage (data, not instructions):")
        st.text(text)  # as text: a passage's Markdown, HTML or instructions are shown, never followed


def waiting_label(ahead: int) -> str:
    return f"waiting: {ahead} question{'s' if ahead != 1 else ''} ahead"


def ask_and_show(question: str, settings, workspace, index_note=None) -> dict:
    """Ask the four paths at once and draw their columns as they stream; returns each path's Trace (paths that
    failed show their error in their column and are left out)."""
    columns = dict(zip(PATH_IDS, st.columns(len(PATH_IDS))))
    answers = {}
    texts = {path_id: "" for path_id in PATH_IDS}
    traces = {}
    errors = {}
    for path_id, column in columns.items():
        column.subheader(PATHS[path_id].title)
        column.caption(PATHS[path_id].summary)
        answers[path_id] = column.empty()
        answers[path_id].info("waiting…")
    failure = None
    drawn_at = {path_id: 0.0 for path_id in PATH_IDS}
    asked_at = time.perf_counter()
    with st.status("Answering…", expanded=False) as status:
        try:
            for event in ask_stream(question, settings, PATH_IDS, concurrent=True, workspace=workspace):
                if isinstance(event, WaitEvent):  # other sessions' questions hold the models: say so
                    label = waiting_label(event.ahead) if event.ahead else "Answering…"
                    status.update(label=label)
                    for answer in answers.values():
                        answer.info(label if event.ahead else "answering…")
                elif isinstance(event, TokenEvent):
                    texts[event.path] += event.text
                    if time.perf_counter() - drawn_at[event.path] >= REDRAW_EVERY_S:
                        answers[event.path].text(texts[event.path])
                        drawn_at[event.path] = time.perf_counter()
                elif isinstance(event, ErrorEvent):
                    errors[event.path] = event.message
                    answers[event.path].error(markdown_escaped(event.message))
                elif isinstance(event, DoneEvent):
                    traces[event.path] = event.trace
                    answers[event.path].text(event.trace.text or "(empty answer)")
        except FourpathsError as error:
            failure = str(error)
        wall_ms = 1000 * (time.perf_counter() - asked_at)
        status.update(label=f"{len(traces)} of {len(PATH_IDS)} paths answered",
                      state="error" if failure else "complete")
    if failure:  # outside the collapsed status box, where it would be hidden
        st.error(markdown_escaped(failure))
    if workspace.index_rebuilt and index_note is not None:
        index = workspace.index()
        index_note.caption(f"Search index built for this question: {len(index):,} chunks embedded in "
                           f"{index.build_seconds:.1f} s")
    for path_id, trace in traces.items():
        column = columns[path_id]
        column.caption(f"Answer by: {trace.mode}")
        if "sentence" in trace.facts:
            number, _, source = trace.facts["cited"].partition(" ")  # "[2] docs/x.md": the name is a document's
            column.caption(f"{number} {markdown_escaped(source)}, the answer between » and «:")
            column.text(trace.facts["sentence"])
        # a wrapping row: three fixed thirds of a quarter-width column cut the numbers to "15…"
        row = column.container(horizontal=True, wrap=True)
        row.metric("First token", f"{trace.ttft_ms:.0f} ms", width="content")
        row.metric("Total", f"{trace.total_ms:.0f} ms", width="content")
        if trace.new_tokens:
            row.metric("Tokens/s", f"{trace.tokens_per_s:.1f}", width="content")
        if trace.score is not None:
            row.metric("Score", f"{trace.score:.2f}", width="content")
        with column.expander("Anatomy"):
            st.markdown("**Input, exactly as the model saw it**")
            st.code(trace.input, language=None, wrap_lines=True)  # a quarter-width column cuts long lines
            if trace.sources:
                show_scored_texts("**Retrieved passages**", [
                    (f"[{number}] {s.source}", f"[{number}] {markdown_escaped(s.source)}", s.score, s.text)
                    for number, s in enumerate(trace.sources, start=1)])
            st.markdown(f"**Model**: `{trace.model}`")
            st.json(trace.facts)
    if traces:
        st.subheader("Latency")
        answered = [path_id for path_id in PATH_IDS if path_id in traces]  # the columns' order, not the finishing one
        frame = pd.DataFrame({"time to first token (ms)": [traces[p].ttft_ms for p in answered],
                              "total (ms)": [traces[p].total_ms for p in answered]},
                             index=[SHORT_TITLES.get(p, p) for p in answered])
        # horizontal, short names: upright labels under the bars were cut to "Trained from scra…"
        st.bar_chart(frame, stack=False, horizontal=True, sort=False, x_label="", y_label="ms")
        st.caption(f"From Ask to the last answer, drawing included: {wall_ms:.0f} ms; the four paths run at once, "
                   "each on a thread of its own.")
        results = {path_id: traces.get(path_id, errors.get(path_id, "no answer")) for path_id in PATH_IDS}
        row = st.container(horizontal=True)
        row.download_button("Download answers (JSON)", answers_json(question, results), "fourpaths-answers.json",
                            mime="application/json", on_click="ignore")
        row.download_button("Download answers (Markdown)", answers_markdown(question, results),
                            "fourpaths-answers.md", mime="text/markdown", on_click="ignore")
    return traces
