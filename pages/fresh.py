"""Fresh knowledge: add a document, ask about it at once (RAG knows it as soon as it is indexed), then pay to teach
the fine-tuned adapter the same facts. What is added lives in this browser session only."""

import time

import pandas as pd
import streamlit as st

from fourpaths.answering.workspace import Workspace
from fourpaths.config import validate_question
from fourpaths.errors import FourpathsError
from fourpaths.fresh.proposals import Pair, propose_pairs
from fourpaths.fresh.teaching import DEFAULT_BUDGET_S
from fourpaths.fresh.uploads import MAX_DOCUMENT_BYTES
from fourpaths.views.export import (
    markdown_escaped,  # messages quote file names and answers, which are the user's
)
from ui.answers import ask_and_show
from ui.settings import page_settings
from ui.teaching import show_job
from ui.visitor import session_visitor

settings = page_settings()
state = st.session_state
visitor = session_visitor(settings)  # documents, taught adapter and teaching job: released when the session ends
state["fresh_visitor"] = visitor  # the same object, for tests; after the session it is an empty shell
overlay = visitor.overlay
overlay.settings = settings  # the sidebar's current choices; the documents stay
PAIR_COLUMNS = ["question", "answer", "document"]


def note(kind: str, text: str) -> None:
    state["fresh_note"] = (kind, text)


def show_note() -> None:
    kind, text = state.pop("fresh_note", (None, None))
    if kind == "error":
        st.error(markdown_escaped(text))
    elif kind == "success":
        st.success(markdown_escaped(text))


st.title("Fresh knowledge")
st.caption("Add a document and ask about it: retrieval knows it as soon as it is indexed. The fine-tuned adapter "
           "knows it only after it is taught, at a cost in examples and minutes. The base model and the model "
           "trained from scratch never do. What you add stays in this browser session and is gone on Reset.")

# ---------------------------------------------------------------------------
st.header("1. Add a document")
bar = st.empty()


def embedding_progress(done: int, total: int) -> None:
    bar.progress(done / max(total, 1), text=f"Embedding: {done} of {total} chunks")


def add(action) -> None:
    """Add, then build the search over the shipped and added chunks, so the time shown is until it is searchable."""
    started = time.perf_counter()
    try:
        added = action()
        Workspace(settings, overlay=overlay).searcher()
    except FourpathsError as error:
        note("error", str(error))
    else:
        note("success", f"Added {added.source}: {len(added.chunks)} chunks, searchable "
                        f"{time.perf_counter() - started:.2f} s after it arrived")
    bar.empty()


paste, upload = st.tabs(["Paste text", "Upload a file"])
with paste:
    name = st.text_input("Name", placeholder="price-list.md", key="fresh_name")
    text = st.text_area("Text", height=160, key="fresh_text",
                        placeholder="Paste a policy, a price list, release notes… (Markdown headings are kept)")
    if st.button("Add the text"):
        add(lambda: overlay.add_text(name, text, embedding_progress))
with upload:
    uploaded = st.file_uploader(f".md or .txt, up to {MAX_DOCUMENT_BYTES // 1000} KB (PDF is not read: paste its "
                                "text instead)", key="fresh_upload")
    done_uploads = state.setdefault("fresh_uploads", set())
    if uploaded is not None and uploaded.file_id not in done_uploads:
        done_uploads.add(uploaded.file_id)  # once per upload, not on every rerun
        add(lambda: overlay.add_bytes(uploaded.name, uploaded.getvalue(), embedding_progress))
show_note()

documents = overlay.documents()
if documents:
    st.subheader(f"Added in this session ({len(documents)})")
for item in documents:
    row = st.container(horizontal=True, vertical_alignment="center")
    row.text(f"{item.source}: {item.document.word_count:,} words, {len(item.chunks)} chunks, embedded in "
             f"{item.seconds:.2f} s")
    if row.button("Remove", key=f"remove-{item.source}"):
        overlay.remove(item.source)
        note("success", f"Removed {item.source}")
        st.rerun()
if not documents:
    st.text("Nothing added yet: RAG searches the shipped documents only.")

# ---------------------------------------------------------------------------
st.header("2. Ask")
workspace = Workspace(settings, overlay=overlay)
question = st.text_area("Question", key="fresh_question", height=80,
                        placeholder="Ask about what you added, e.g. How much is an adult single fare?")
if st.button("Ask", type="primary"):
    try:
        question = validate_question(question)
    except FourpathsError as error:
        st.error(markdown_escaped(str(error)))
    else:
        state["fresh_asked"] = question
        traces = ask_and_show(question, settings, workspace)
        if "lora" in traces:
            state["fresh_lora_before"] = (question, traces["lora"].text, overlay.adapter_location)

# ---------------------------------------------------------------------------
st.header("3. Teach the adapter")
st.caption("The fine-tuned path picks among the answers it was taught. To know your document it must be taught "
           "question/answer pairs from it: proposed below from its sentences (edit, add or delete rows), then "
           "trained on the shipped adapter's data plus these pairs, within the budget you pick.")
try:
    teachable = workspace.lora_is_answer_head()
except FourpathsError as error:
    teachable = False
    st.warning(markdown_escaped(str(error)))
if not teachable:
    st.info("The configured LoRA adapter is not an answer head (PEFT SEQ_CLS), so it cannot be taught here.")
elif not documents:
    st.text("Add a document first.")
else:
    sources = [item.source for item in documents]
    if st.button("Propose pairs"):
        proposed = [pair for item in documents for pair in propose_pairs(item.document, limit=8)]
        state["fresh_pairs"] = pd.DataFrame([[p.question, p.answer, p.source] for p in proposed],
                                            columns=PAIR_COLUMNS)
        state["fresh_pairs_version"] = state.get("fresh_pairs_version", 0) + 1  # a fresh table, edits dropped
    table = state.get("fresh_pairs", pd.DataFrame(columns=PAIR_COLUMNS))
    edited = st.data_editor(table, num_rows="dynamic", width="stretch",
                            key=f"pairs-{state.get('fresh_pairs_version', 0)}",
                            column_config={"question": st.column_config.TextColumn("Question", required=True),
                                           "answer": st.column_config.TextColumn("Answer (as the document says it)",
                                                                                 required=True),
                                           "document": st.column_config.SelectboxColumn("Document", options=sources,
                                                                                        required=True)})
    budget = st.slider("Budget (seconds of training steps; loading and measuring come on top and are shown apart)",
                       10, 600, int(DEFAULT_BUDGET_S), step=10, key="fresh_budget")
    job = visitor.job
    if st.button("Teach", disabled=job is not None and not job.done):
        pairs = [Pair(str(row.question or ""), str(row.answer or ""), str(row.document or ""))
                 for row in edited.fillna("").itertuples(index=False)]
        try:
            job = visitor.teach(pairs, float(budget))
        except FourpathsError as error:
            st.error(markdown_escaped(str(error)))
    if job is not None:
        show_job(job)
        status = job.status()
        if status.error:
            st.error(markdown_escaped(status.error))
        elif status.report is not None:
            report = status.report
            cost, bought = st.columns(2)
            with cost:
                st.subheader("What it cost")
                st.metric("Examples trained", f"{report.examples:,}")
                st.metric("Steps", f"{report.steps:,}")
                st.metric("Seconds of training", f"{report.train_seconds:.1f}", help=f"budget {report.budget_s:.0f} s")
                st.text(report.cost_line())
                if documents:
                    slowest = max(item.seconds for item in documents)
                    st.text(f"RAG, for comparison: each document embedded in at most {slowest:.2f} s, no training")
            with bought:
                st.subheader("What it bought")
                st.metric("Recall on the taught pairs", f"{report.recall:.0%}")
                st.metric("Accuracy on reworded questions", f"{report.reworded_accuracy:.0%}")
                st.metric("Shipped questions still answered", f"{report.shipped_recall:.0%}")
                before = state.get("fresh_lora_before")
                if before and before[2] != overlay.adapter_location:
                    asked, old_text, _ = before
                    try:
                        new_text = Workspace(settings, overlay=overlay).answer_head().answer(asked).text
                    except FourpathsError as error:
                        new_text = f"(cannot answer: {error})"
                    st.text(f"Asked again: {asked}\nBefore teaching: {old_text}\nAfter teaching:  {new_text}")

# ---------------------------------------------------------------------------
st.header("4. Reset")
if st.button("Reset to the shipped state"):
    visitor.reset()
    for key in ("fresh_pairs", "fresh_lora_before", "fresh_asked"):
        state.pop(key, None)
    note("success", "Back to the shipped documents and adapter")
    st.rerun()
