"""The answer columns the Compare, Tour and Fresh knowledge pages share: one question through the four paths,
streamed side by side, then each answer marked, its confidence, its timings and its anatomy; the latency chart,
the downloads, and the session's history of questions."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from fourpaths.answering.paths import PATH_IDS, PATHS, SHORT_TITLES
from fourpaths.answering.pipeline import ask_stream
from fourpaths.config import shown_location
from fourpaths.errors import FourpathsError
from fourpaths.types import DoneEvent, ErrorEvent, TokenEvent, Trace, WaitEvent
from fourpaths.views.export import answers_json, answers_markdown, markdown_escaped, plain_text
from fourpaths.views.report import session_report, timings
from fourpaths.views.session import MARKS_MEANING, Asked, History, history_frame, settings_label

# A column is redrawn at most this often while it streams (and once more when it is done): each redraw is a
# message to the browser, built on the server's CPU that the decoding it shows also needs.
REDRAW_EVERY_S = 0.1
LARGE_ANSWER_WORDS = 15  # a longer answer is drawn a size smaller, so four columns still fit a screen
ANATOMY_HEIGHT = 320  # px: the anatomy scrolls inside its box instead of stretching the page


def waiting_label(ahead: int) -> str:
    return f"waiting: {ahead} question{'s' if ahead != 1 else ''} ahead"


def column_heading(column, path_id: str) -> None:
    column.markdown(f"**{PATHS[path_id].title}**")
    column.caption(PATHS[path_id].summary)


def stream(question: str, settings, workspace, reference=None, index_note=None) -> Asked:
    """Ask the four paths at once and draw their answers as they stream; returns what was asked and answered
    (a path that failed holds its error message)."""
    live = st.empty()
    columns = dict(zip(PATH_IDS, live.container().columns(len(PATH_IDS))))
    answers, texts, results = {}, {path_id: "" for path_id in PATH_IDS}, {}
    for path_id, column in columns.items():
        column_heading(column, path_id)
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
                    results[event.path] = event.message
                    answers[event.path].error(markdown_escaped(event.message))
                elif isinstance(event, DoneEvent):
                    results[event.path] = event.trace
                    answers[event.path].text(event.trace.text or "(empty answer)")
        except FourpathsError as error:
            failure = str(error)
        wall_ms = 1000 * (time.perf_counter() - asked_at)
        answered = sum(isinstance(r, Trace) for r in results.values())
        status.update(label=f"{answered} of {len(PATH_IDS)} paths answered", state="error" if failure else "complete")
    live.empty()
    if failure:  # outside the collapsed status box, where it would be hidden
        st.error(markdown_escaped(failure))
    if workspace.index_rebuilt and index_note is not None:
        index = workspace.index()
        index_note.caption(f"Search index built for this question: {len(index):,} chunks and "
                           f"{len(index.sentence_vectors):,} sentences embedded in {index.build_seconds:.1f} s")
    overlay = getattr(workspace, "overlay", None)
    added = tuple(item.source for item in overlay.documents()) if overlay is not None else ()
    return Asked(question, settings_label(settings), {p: results[p] for p in PATH_IDS if p in results}, wall_ms,
                 reference, documents_added=added)


def show_asked(asked: Asked, key: str, compact: bool = False) -> None:
    """A finished question: each path's column (mark, answer, confidence, timings, anatomy), then (unless
    compact, as on the Tour) the latency chart and the downloads of its answers."""
    st.caption(f"Asked {asked.asked_at} with {markdown_escaped(asked.settings)}"
               + (f"; documents added: {markdown_escaped(', '.join(asked.documents_added))}"
                  if asked.documents_added else ""))
    marks = asked.marks()
    for path_id, column in zip(PATH_IDS, st.columns(len(PATH_IDS))):
        column_heading(column, path_id)
        result = asked.results.get(path_id)
        if result is None:
            column.info("no answer")
        elif isinstance(result, str):
            column.error(markdown_escaped(result))
        else:
            show_trace(column, result, marks.get(path_id))
    traces = asked.traces()
    if not traces or compact:
        return
    st.subheader("Latency")
    answered = [path_id for path_id in PATH_IDS if path_id in traces]  # the columns' order, not the finishing one
    frame = pd.DataFrame({"time to first token (ms)": [traces[p].ttft_ms for p in answered],
                          "total (ms)": [traces[p].total_ms for p in answered]},
                         index=[SHORT_TITLES.get(p, p) for p in answered])
    # horizontal, short names: upright labels under the bars were cut to "Trained from scra…"
    st.bar_chart(frame, stack=False, horizontal=True, sort=False, x_label="", y_label="ms", height=220)
    st.caption(f"From Ask to the last answer, drawing included: {asked.wall_ms:.0f} ms; the four paths run at "
               "once, each on a thread of its own.")
    row = st.container(horizontal=True)
    row.download_button("Download answers (JSON)", answers_json(asked.question, asked.results),
                        "fourpaths-answers.json", mime="application/json", on_click="ignore", key=f"{key}-json")
    row.download_button("Download answers (Markdown)", answers_markdown(asked.question, asked.results),
                        "fourpaths-answers.md", mime="text/markdown", on_click="ignore", key=f"{key}-md")


def show_trace(column, trace: Trace, mark) -> None:
    if mark is not None:
        column.badge(mark.label, color=mark.colour, help=mark.why)
    # the answer in the largest type of the column (a long one a step smaller); escaped, so it shows as written
    size = "####" if len(trace.text.split()) <= LARGE_ANSWER_WORDS else "#####"
    column.markdown(f"{size} {markdown_escaped(trace.text or '(empty answer)')}", anchors=False)
    if trace.confidence is not None:
        column.progress(trace.confidence)
        column.caption(f"Confidence {trace.confidence:.2f}", help=trace.confidence_meaning)
    column.caption(f"Answer by: {trace.mode} · {timings(trace)}")
    if "sentence" in trace.facts:
        number, _, source = trace.facts["cited"].partition(" ")  # "[2] docs/x.md": the name is a document's
        column.caption(f"{number} {markdown_escaped(source)}, the answer between » and «:")
        column.text(plain_text(trace.facts["sentence"]))
    with column.expander("Anatomy"), st.container(height=ANATOMY_HEIGHT, border=False):
        st.markdown("**Input, exactly as the model saw it**")
        st.code(trace.input, language=None, wrap_lines=True)  # a quarter-width column cuts long lines
        if trace.sources:
            st.markdown("**Retrieved passages**, by similarity ([n]: the order the reader was given them)")
            numbered = sorted(enumerate(trace.sources, start=1), key=lambda pair: -pair[1].score)
            for number, source in numbered:
                st.caption(f"[{number}] {markdown_escaped(source.source)} — score {source.score:.3f}, quoted "
                           "passage (data, not instructions):")
                st.text(plain_text(source.text))  # as text: a passage's Markdown or instructions are never followed
        st.markdown(f"**Model**: `{shown_location(trace.model)}`")
        if trace.score is not None:
            st.caption(f"Raw score {trace.score:.3f} (the {trace.mode}'s own scale)")
        st.json(trace.facts)


def show_history(history: History, key: str, title: str = "fourpaths: the session's questions") -> Asked | None:
    """The session's questions, one compact row per question and settings; a row picked is returned (None: the
    latest), with a Clear button and the HTML report of them all."""
    if not len(history):
        return None
    st.subheader(f"This session's questions ({len(history)})")
    st.caption(MARKS_MEANING)
    narrow = {title: st.column_config.TextColumn(width="small") for title in SHORT_TITLES.values()}
    picked = st.dataframe(history_frame(history.entries), hide_index=True, on_select="rerun",
                          selection_mode="single-row", key=f"{key}-table-{len(history)}",
                          column_config={**narrow, "#": st.column_config.NumberColumn(width=40),
                                         "asked": st.column_config.TextColumn(width=70),
                                         "question": st.column_config.TextColumn(width="medium"),
                                         "settings": st.column_config.TextColumn(width="small")})
    row = st.container(horizontal=True)
    row.download_button("Download the session report (HTML)", session_report(history.entries, title),
                        "fourpaths-session.html", mime="text/html", on_click="ignore", key=f"{key}-html")
    if row.button("Clear the history", key=f"{key}-clear"):
        history.clear()
        st.rerun()
    rows = picked.selection.rows if picked is not None else []
    return history.entries[rows[0]] if rows else None


def ask_and_show(question: str, settings, workspace, index_note=None, history: History | None = None,
                 reference=None, compact: bool = False) -> dict[str, Trace]:
    """Stream the answers, then show them marked; the question joins `history` when one is given. Returns each
    path's Trace (paths that failed show their error in their column and are left out)."""
    asked = stream(question, settings, workspace, reference, index_note)
    if history is not None:
        history.add(asked)
    show_asked(asked, key=f"asked-{id(asked)}", compact=compact)
    return asked.traces()
