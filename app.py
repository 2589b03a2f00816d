"""fourpaths: the router. The shared sidebar, the models loaded once per process, then the page picked."""

import streamlit as st

from fourpaths.answering.prompts import PROMPT_TEMPLATES
from fourpaths.answering.workspace import Workspace
from fourpaths.config import (
    RAG_ANSWER_MODES,
    RETRIEVAL_MODES,
    load_settings,
    with_overrides,
)
from fourpaths.errors import FourpathsError
from fourpaths.views.export import markdown_escaped

st.set_page_config(page_title="fourpaths", page_icon="🛤️", layout="wide")

try:
    st.secrets.load_if_toml_exists()  # its top-level keys (FOURPATHS_API_KEY, FOURPATHS_ENGINE...) join the environment
    defaults = load_settings()
except FourpathsError as error:  # a bad fourpaths.toml or FOURPATHS_ variable: said on the page, no traceback
    st.error(f"The settings cannot be used: {markdown_escaped(str(error))}")
    st.stop()
with st.sidebar:
    st.header("Settings")
    template = st.selectbox("Prompt template (prompt path)", list(PROMPT_TEMPLATES),
                            index=list(PROMPT_TEMPLATES).index(defaults.template))
    decoding = st.radio("Decoding", ["greedy", "sampled"], horizontal=True)
    temperature = st.slider("Temperature", 0.1, 1.5, 0.7, step=0.1, disabled=decoding == "greedy")
    max_new_tokens = st.slider("Max new tokens", 8, 128, defaults.max_new_tokens, step=8)
    top_k = st.slider("Passages retrieved (RAG)", 1, 8, defaults.top_k_passages)
    with st.expander("Advanced"):
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=defaults.seed, step=1)
        retrieval = st.radio("RAG retrieval", list(RETRIEVAL_MODES), horizontal=True,
                             index=list(RETRIEVAL_MODES).index(defaults.retrieval),
                             help="hybrid: FAISS embeddings and BM25 keywords, fused by rank; dense: FAISS alone")
        rag_answer = st.radio("RAG answer", list(RAG_ANSWER_MODES), horizontal=True, key="rag_answer",
                              index=list(RAG_ANSWER_MODES).index(defaults.rag_answer),
                              help="reader: an extractive reader picks the answer's span in a passage; generated: "
                                   "the base writes the answer from the passages in its prompt; auto: the reader, "
                                   "or generated when the base is a hub model")

settings = with_overrides(defaults, template=template, max_new_tokens=max_new_tokens, seed=int(seed),
                          top_k_passages=top_k, retrieval=retrieval, rag_answer=rag_answer,
                          temperature=temperature if decoding == "sampled" else 0.0)
st.session_state["settings"] = settings


@st.cache_resource(show_spinner=False)
def loaded_models(models: tuple) -> dict:
    """What this process has loaded for this set of models: filled by the first session to start."""
    return {"done": False, "problems": []}


# The models load once per process, when the app starts, so the first question is timed answering, not loading.
record = loaded_models((settings.base_model, settings.lora_adapter, settings.reader_model, settings.scratch_model,
                        settings.embedder, settings.corpus_root, settings.index_dir, settings.engine,
                        settings.prompt_engine, settings.lora_engine, settings.rag_engine, settings.endpoint_url))
if not record["done"]:
    with st.status("Loading the models…", expanded=False) as status:
        bar = st.progress(0.0)

        def progress(done: int, total: int, what: str) -> None:
            bar.progress(done / total, text=f"Loading {what}" if done < total else "Loaded")

        record["problems"] = Workspace(settings).preload(progress)
        record["done"] = True
        status.update(label="Models loaded" if not record["problems"] else "Models loaded, with problems",
                      state="complete" if not record["problems"] else "error")
for problem in record["problems"]:
    st.sidebar.warning(problem)
st.sidebar.caption("Engines: " + "; ".join(f"{title}: {label}" for title, label in
                                           Workspace(settings).engine_labels().items()))

page = st.navigation([
    st.Page("pages/compare.py", title="Compare", icon="⚖️", default=True),
    st.Page("pages/scoreboard.py", title="Scoreboard", icon="📊"),
    st.Page("pages/cost.py", title="Cost to build", icon="🧾"),
    st.Page("pages/choose.py", title="Choose a path", icon="🧭"),
    st.Page("pages/fresh.py", title="Fresh knowledge", icon="🌱"),
])
page.run()
