"""Scoreboard: how often each path is right on every question set, read from results/eval.json; how often it
says it does not know, apart; partial re-runs beside the full sets, never in their place."""

import streamlit as st

from fourpaths.errors import FourpathsError
from fourpaths.views import scoreboard
from fourpaths.views.export import markdown_escaped
from ui.settings import page_settings

RERUN_KEY = "scoreboard_rerun"  # the Rerun in progress (or last finished) lives in the session
SHOWN_KEY = "scoreboard_rerun_shown"  # the finished Rerun whose figures the page has been redrawn with
POLL_S = 1.0

settings = page_settings()

st.title("Scoreboard")
st.caption("How often each path is right on trained facts, on the same facts asked in new words, on facts that "
           "arrived after training, and whether it says so when no document answers. Measured by "
           "`fourpaths eval --all`; read from its results file.")

try:
    doc = scoreboard.load(settings)
except FourpathsError as error:
    doc = None
    st.warning(f"No scoreboard yet: {error}")

if doc is not None:
    st.caption(scoreboard.provenance(doc))
    right, abstain = st.columns(2, gap="large")
    with right:
        st.subheader("How often right")
        metric = st.radio("Figure", list(scoreboard.RIGHT_METRICS), format_func=scoreboard.RIGHT_METRICS.get,
                          horizontal=True, key="scoreboard_metric",
                          help="Strict: the reference in a short answer. Accuracy: the reference within the first "
                               "40 words. F1: word overlap with the reference.")
        st.altair_chart(scoreboard.grouped_bars(scoreboard.chart_frame(doc, metric), "set",
                                                scoreboard.RIGHT_METRICS[metric], ["id"]))
    with abstain:
        st.subheader("How often it says it does not know")
        st.caption("Right when no document answers; a miss when one does. Saying it every time is high on both.")
        st.altair_chart(scoreboard.grouped_bars(scoreboard.abstention_frame(doc), "when", "Abstained"))
    st.markdown(scoreboard.summary_line(doc))
    figures = scoreboard.figures_frame(doc)
    shares = {label: st.column_config.NumberColumn(label, format="%.2f")
              for label in ("Accuracy", "Strict", "F1", "Abstained")}
    times = {label: st.column_config.NumberColumn(label, format="%.0f") for label in ("p50 ms", "p95 ms")}
    st.dataframe(figures, hide_index=True, height=35 * (len(figures) + 1) + 3,  # every row, no inner scrolling
                 column_config={**shares, **times, "set": st.column_config.TextColumn("set", width="medium"),
                                "id": st.column_config.TextColumn("id", help="the question set's file: "
                                                                  "corpus/qa/<id>.jsonl")})
    with st.expander("Each set in words"):
        for split, sentence in scoreboard.split_sentences(doc).items():
            note = scoreboard.split_note(split) or "a further question set"
            st.markdown(f"**{scoreboard.split_title(split)}**: {note}. {sentence}", help=f"id: {split}")

    st.subheader("Question by question")
    left, middle, right_, far = st.columns(4)
    split = left.selectbox("Question set", list(doc["splits"]), format_func=scoreboard.split_title,
                           key="questions_split")
    path_ids = list(doc["splits"][split]["paths"])
    chosen = middle.multiselect("Paths", path_ids, default=path_ids, format_func=scoreboard.title,
                                key="questions_paths")
    outcome = right_.selectbox("Outcome", scoreboard.OUTCOMES, key="questions_outcome")
    measure = far.radio("Right means", scoreboard.MEASURES, horizontal=True, key="questions_measure")
    st.dataframe(scoreboard.question_frame(doc, split, chosen, outcome, measure), hide_index=True,
                 column_config={"question": st.column_config.TextColumn(width="medium"),
                                "reference": st.column_config.TextColumn(width="small"),
                                "answer": st.column_config.TextColumn(width="large")})

st.subheader("Run again")
st.caption("Re-measures one question set with the current settings. The whole set replaces its figures in the "
           "results file; the first N questions are kept apart, in results/eval-partial.json, and shown beside "
           "the full figures, never in their place. The first question also loads the models.")
job = st.session_state.get(RERUN_KEY)


@st.fragment(run_every=POLL_S if job is not None and not job.finished else None)
def rerun_panel() -> None:
    job = st.session_state.get(RERUN_KEY)
    running = job is not None and not job.finished
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    split = left.selectbox("Question set", scoreboard.question_sets(settings), format_func=scoreboard.split_title,
                           key="rerun_split", disabled=running)
    first = middle.number_input("Only the first N questions (0: all)", min_value=0, value=0, step=1,
                                key="rerun_limit", disabled=running)
    if right.button("Run again", key="rerun_button", disabled=running or split is None):
        try:
            st.session_state[RERUN_KEY] = scoreboard.start_rerun(settings, split, int(first) or None)
        except FourpathsError as error:
            st.error(str(error))
            return
        st.rerun()  # the whole page, so this panel is drawn again polling
    if job is None:
        return
    if not job.finished:
        text = (f"{scoreboard.split_title(job.split)}: {job.done} of {job.total} questions" if job.total
                else f"{scoreboard.split_title(job.split)}: loading models…")
        st.progress(job.fraction(), text=text)
    elif st.session_state.get(SHOWN_KEY) is not job:
        st.session_state[SHOWN_KEY] = job
        st.rerun()  # the whole page, to draw the chart and tables with the new figures
    elif job.state == "failed":
        st.error(f"Re-measuring {job.split} failed: {markdown_escaped(job.error)}")  # may quote a question
    else:
        st.success(f"{job.split} ({scoreboard.split_title(job.split)}) re-measured on {job.result['n']} questions "
                   f"in {job.seconds:.0f} s and written to {job.path.name}. "
                   f"{scoreboard.describe_split(job.split, job.result)}")


rerun_panel()
partial = scoreboard.partial_frame(scoreboard.load_partial(settings), doc)
if len(partial):
    st.markdown("**Partial re-runs** (the first N questions of a set; the figures above are the whole sets)")
    st.dataframe(partial, hide_index=True)
