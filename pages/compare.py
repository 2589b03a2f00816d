"""Compare: one question, four paths, side by side, streaming together."""

import time

import pandas as pd
import streamlit as st

from fourpaths.ask import DoneEvent, ErrorEvent, TokenEvent, ask_stream
from fourpaths.config import validate_question
from fourpaths.errors import FourpathsError
from fourpaths.paths import PATH_IDS, PATHS
from fourpaths.presets import preset_questions
from fourpaths.workspace import Workspace

# A column is redrawn at most this often while it streams (and once more when it is done): each redraw is a
# message to the browser, built on the server's CPU that the decoding it shows also needs.
REDRAW_EVERY_S = 0.1

settings = st.session_state["settings"]

st.title("One question, four paths")
st.caption("Prompt engineering, a fine-tuned adapter, retrieval and a model trained from scratch answer "
           "the same question at the same time. Every number below is measured as it happens.")
index_note = st.empty()  # the search index's first build (about a minute on 2 cores) shows its progress here


def show_index_progress(done: int, total: int) -> None:
    index_note.progress(done / max(total, 1), text=f"Building the search index: {done:,} of {total:,} chunks "
                                                   "and sentences embedded")


workspace = Workspace(settings, index_progress=show_index_progress)


def show_scored_texts(title: str, items: list[tuple[str, str, float, str]]) -> None:
    """A title, a bar chart of the scores, then each text under its label: items are (chart label, label,
    score, text)."""
    st.markdown(title)
    st.bar_chart(pd.DataFrame({"score": [score for _, _, score, _ in items]},
                              index=[chart_label for chart_label, _, _, _ in items]), horizontal=True)
    for _, label, score, text in items:
        st.caption(f"{label} — score {score:.3f}")
        st.text(text)

try:
    presets = preset_questions(workspace.corpus_root())
except FourpathsError as error:
    presets = []
    st.warning(f"No preset questions: {error}")

choice = st.selectbox("Preset questions", ["(type your own)"] + [p.label for p in presets], key="preset")
chosen = next((p for p in presets if p.label == choice), None)
question = st.text_area("Question", value=chosen.question if chosen else "", key=f"question-{choice}",
                        height=80, placeholder="Ask about Quillmoor Robotics…")
if chosen:
    st.caption(f"Reference answer: **{chosen.answer}** — from `{chosen.source}`")

if st.button("Ask", type="primary"):
    try:
        validate_question(question)
    except FourpathsError as error:
        st.error(str(error))
        st.stop()
    columns = dict(zip(PATH_IDS, st.columns(len(PATH_IDS))))
    answers = {}
    texts = {path_id: "" for path_id in PATH_IDS}
    traces = {}
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
                if isinstance(event, TokenEvent):
                    texts[event.path] += event.text
                    if time.perf_counter() - drawn_at[event.path] >= REDRAW_EVERY_S:
                        answers[event.path].text(texts[event.path])
                        drawn_at[event.path] = time.perf_counter()
                elif isinstance(event, ErrorEvent):
                    answers[event.path].error(event.message)
                elif isinstance(event, DoneEvent):
                    traces[event.path] = event.trace
                    answers[event.path].text(event.trace.text or "(empty answer)")
        except FourpathsError as error:
            failure = str(error)
        wall_ms = 1000 * (time.perf_counter() - asked_at)
        status.update(label=f"{len(traces)} of {len(PATH_IDS)} paths answered",
                      state="error" if failure else "complete")
    if failure:  # outside the collapsed status box, where it would be hidden
        st.error(failure)
    if workspace.index_rebuilt:
        index = workspace.index()
        index_note.caption(f"Search index built for this question: {len(index):,} chunks and "
                           f"{len(index.sentence_vectors):,} sentences embedded in {index.build_seconds:.1f} s")
    for path_id, trace in traces.items():
        column = columns[path_id]
        # a wrapping row: three fixed thirds of a quarter-width column cut the numbers to "15…"
        row = column.container(horizontal=True, wrap=True)
        row.metric("First token", f"{trace.ttft_ms:.0f} ms", width="content")
        row.metric("Total", f"{trace.total_ms:.0f} ms", width="content")
        row.metric("Tokens/s", f"{trace.tokens_per_s:.1f}", width="content")
        with column.expander("Anatomy"):
            st.markdown("**Final prompt, exactly as the model saw it**")
            st.code(trace.prompt, language=None)
            if trace.sources:
                show_scored_texts("**Retrieved passages**", [
                    (f"[{number}] {s.source}", f"[{number}] {s.source}", s.score, s.text)
                    for number, s in enumerate(trace.sources, start=1)])
            evidence = trace.facts.get("evidence_ranking")
            if evidence:
                show_scored_texts("**Evidence sentences** (the quote starts at the best; score = cosine + keyword "
                                  "share)", [
                    (f"{rank}. [{item['passage']}]", f"{rank}. passage [{item['passage']}]", item["score"],
                     item["sentence"]) for rank, item in enumerate(evidence, start=1)])
            st.markdown("**Model**")
            st.json(trace.facts)
    if traces:
        st.subheader("Latency")
        frame = pd.DataFrame({"time to first token (ms)": [t.ttft_ms for t in traces.values()],
                              "total (ms)": [t.total_ms for t in traces.values()]},
                             index=[PATHS[p].title for p in traces])
        st.bar_chart(frame, stack=False)
        lanes = len({trace.facts.get("decode_lane", 0) for trace in traces.values()})
        st.caption(f"From Ask to the last answer, drawing included: {wall_ms:.0f} ms, decoded in {lanes} "
                   f"lane{'s' if lanes > 1 else ''} at once (each anatomy's decode_lane says which; lane 0 is "
                   "this process, the others worker processes kept from question to question).")
