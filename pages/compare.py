"""Compare: one question, four paths, side by side, streaming together; every question of the session kept, per
question and settings, and marked against its reference when the question sets know it."""

import streamlit as st

from fourpaths.answering.workspace import Workspace
from fourpaths.config import validate_question
from fourpaths.errors import FourpathsError
from fourpaths.views.export import markdown_escaped
from fourpaths.views.presets import preset_questions
from fourpaths.views.session import History, reference_for
from ui.answers import ask_and_show, show_asked, show_history
from ui.settings import page_settings

settings = page_settings()
history: History = st.session_state.setdefault("compare_history", History())

st.title("One question, four paths")
st.caption("Prompt engineering, a fine-tuned adapter, retrieval and a model trained from scratch answer "
           "the same question at the same time. Every number below is measured as it happens.")
index_note = st.empty()  # says so when a question found the documents changed and the index rebuilt

# No index progress callback: app.py's preload builds the index; a rebuild during a question runs on the RAG
# path's thread, where a Streamlit call raises NoSessionContext and would fail the RAG column.
workspace = Workspace(settings)

try:
    presets = preset_questions(workspace.corpus_root())
except FourpathsError as error:
    presets = []
    st.warning(f"No preset questions: {markdown_escaped(str(error))}")

choice = st.selectbox("Preset questions", ["(type your own)"] + [p.label for p in presets], key="preset")
chosen = next((p for p in presets if p.label == choice), None)
question = st.text_area("Question", value=chosen.question if chosen else "", key=f"question-{choice}",
                        height=80, placeholder="Ask about Quillmoor Robotics…")
known = reference_for(workspace.corpus_root(), question) if question.strip() else None
if known is not None:
    answer = markdown_escaped(known.answer) if known.answer else "none: no document answers this"
    st.caption(f"Reference answer: **{answer}**" + (f" — from {markdown_escaped(known.source)}" if known.source
                                                    else "") + "; each answer is marked against it.")

asked = st.button("Ask", type="primary")
shown = st.container()  # the answers, above the session's history
if asked:
    try:
        question = validate_question(question)  # cleaned: what the paths answer is what the downloads show
    except FourpathsError as error:
        st.error(str(error))
        st.stop()
    with shown:
        ask_and_show(question, settings, workspace, index_note, history,
                     reference_for(workspace.corpus_root(), question))
picked = show_history(history, "compare")
if not asked and (picked or history.latest) is not None:
    with shown:  # a template or setting switch reruns the page: the answers stay, under the settings they had
        show_asked(picked or history.latest, key="compare-shown")
