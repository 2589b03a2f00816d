"""Tour: the story in five steps a presenter clicks through. Each step asks its question live through the four
paths, says what to watch for, and ends on a takeaway computed from the measured figures."""

import streamlit as st

from fourpaths.answering.workspace import Workspace
from fourpaths.errors import FourpathsError
from fourpaths.fresh.overlay import Overlay
from fourpaths.views.export import markdown_escaped
from fourpaths.views.scoreboard import split_title
from fourpaths.views.session import History
from fourpaths.views.tour import LIVE_DOCUMENT, LIVE_DOCUMENT_NAME, STEPS, step_question, takeaway
from ui.answers import ask_and_show, show_asked, show_history
from ui.settings import page_settings

settings = page_settings()
state = st.session_state
history: History = state.setdefault("tour_history", History())
overlay: Overlay = state.setdefault("tour_overlay", Overlay(settings))
LABELS = [f"{number}. {step.title}" for number, step in enumerate(STEPS, start=1)]


def go_to(number: int) -> None:
    state["tour_step"] = LABELS[number]


st.title("Four ways to put a model to work")
state.setdefault("tour_step", LABELS[0])  # set here, not as the widget's default: "Next" sets it too
picked = st.segmented_control("Step", LABELS, key="tour_step", label_visibility="collapsed")
number = LABELS.index(picked) if picked in LABELS else 0
step = STEPS[number]
st.header(LABELS[number])
st.markdown(f"##### {step.look_for}")

workspace = Workspace(settings, overlay=overlay if step.split is None else None)
try:
    item = step_question(step, workspace.corpus_root())
except FourpathsError as error:
    st.error(markdown_escaped(str(error)))
    st.stop()
st.markdown(f"## {markdown_escaped(item.question)}", anchors=False)
reference = markdown_escaped(item.answer) if item.answer else "none: no document answers this"
st.caption(f"Reference answer: **{reference}** ({markdown_escaped(split_title(item.split))}"
           + (f", {markdown_escaped(item.source)}" if item.source else "") + ")")

if step.split is None:  # the live step: ask first, then add the document, then ask again
    added = any(document.source.endswith(LIVE_DOCUMENT_NAME) for document in overlay.documents())
    with st.expander(f"The document: {LIVE_DOCUMENT_NAME}", expanded=not added):
        st.text(LIVE_DOCUMENT)
    if not added and st.button("Add the document", type="primary", key="tour_add"):
        try:
            document = overlay.add_text(LIVE_DOCUMENT_NAME, LIVE_DOCUMENT)
            Workspace(settings, overlay=overlay).searcher()  # searchable now: the time shown is until then
        except FourpathsError as error:
            st.error(markdown_escaped(str(error)))
        else:
            st.success(f"Added {document.source}: {len(document.chunks)} chunks, searchable {document.seconds:.2f} s "
                       "after it arrived. Ask again.")

current = [asked for asked in history.entries if asked.question == item.question]
again = bool(current) and st.button("Ask again", key="tour_ask")
if again or not current:  # a step's question is asked as the step opens
    ask_and_show(item.question, settings, workspace, history=history, reference=item, compact=True)
else:
    show_asked(current[-1], key="tour-shown", compact=True)

st.markdown(f"### {takeaway(step, settings)}")
if number + 1 < len(STEPS):
    st.button(f"Next: {LABELS[number + 1]} →", on_click=go_to, args=(number + 1,), key="tour_next", type="primary")
else:
    st.button("Back to the start", on_click=go_to, args=(0,), key="tour_restart")
show_history(history, "tour", title="fourpaths: the Tour's questions")
