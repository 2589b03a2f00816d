"""fourpaths: the router. The navigation first, then the models loading once per process on a thread of their own
(the pages that answer wait for them behind a progress bar; the others are usable at once), the shared sidebar,
then the page picked."""


import streamlit as st

from fourpaths.answering.loading import start_loading
from fourpaths.answering.prompts import PROMPT_TEMPLATES
from fourpaths.config import RAG_ANSWER_MODES, RETRIEVAL_MODES, load_settings, with_overrides
from fourpaths.errors import FourpathsError
from fourpaths.views.export import markdown_escaped

st.set_page_config(page_title="fourpaths", page_icon="🛤️", layout="wide")  # emoji: a material one is fetched

# Drawn before anything loads, so the sidebar lists the pages by their titles from the first moment.
TOUR = st.Page("pages/tour.py", title="Tour", icon=":material/slideshow:")
COMPARE = st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True)
FRESH = st.Page("pages/fresh.py", title="Fresh knowledge", icon=":material/eco:")
page = st.navigation([TOUR, COMPARE, st.Page("pages/scoreboard.py", title="Scoreboard", icon=":material/leaderboard:"),
                      st.Page("pages/cost.py", title="Cost to build", icon=":material/receipt_long:"),
                      st.Page("pages/choose.py", title="Choose a path", icon=":material/explore:"), FRESH])
ANSWERING = (TOUR.url_path, COMPARE.url_path, FRESH.url_path)  # the pages that need the models loaded

try:
    defaults = load_settings()
except FourpathsError as error:  # a bad fourpaths.toml or FOURPATHS_ variable: said on the page, no traceback
    st.error(f"The settings cannot be used: {markdown_escaped(str(error))}")
    st.stop()
if page.url_path == TOUR.url_path:
    settings = defaults  # the Tour shows the shipped settings: no sidebar to distract from it
else:
    with st.sidebar:
        st.header("Settings")
        template = st.selectbox("Prompt template (prompt path)", list(PROMPT_TEMPLATES),
                                index=list(PROMPT_TEMPLATES).index(defaults.template), key="template")
        decoding = st.radio("Decoding", ["greedy", "sampled"], horizontal=True, key="decoding")
        temperature = st.slider("Temperature", 0.1, 1.5, 0.7, step=0.1, disabled=decoding == "greedy",
                                key="temperature")
        max_new_tokens = st.slider("Max new tokens", 8, 128, defaults.max_new_tokens, step=8, key="max_new_tokens")
        top_k = st.slider("Passages retrieved (RAG)", 1, 8, defaults.top_k_passages, key="top_k")
        with st.expander("Advanced"):
            seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=defaults.seed, step=1, key="seed")
            retrieval = st.radio("RAG retrieval", list(RETRIEVAL_MODES), horizontal=True, key="retrieval",
                                 index=list(RETRIEVAL_MODES).index(defaults.retrieval),
                                 help="hybrid: FAISS embeddings and BM25 keywords, fused by rank; dense: FAISS alone")
            rag_answer = st.radio("RAG answer", list(RAG_ANSWER_MODES), horizontal=True, key="rag_answer",
                                  index=list(RAG_ANSWER_MODES).index(defaults.rag_answer),
                                  help="reader: an extractive reader picks the answer's span in a passage; "
                                       "generated: the base writes the answer from the passages in its prompt; "
                                       "auto: the reader, or generated when the base is a hub model")
    settings = with_overrides(defaults, template=template, max_new_tokens=max_new_tokens, seed=int(seed),
                              top_k_passages=top_k, retrieval=retrieval, rag_answer=rag_answer,
                              temperature=temperature if decoding == "sampled" else 0.0)
st.session_state["settings"] = settings


@st.cache_resource(show_spinner=False)
def models_loading(models: tuple, _settings) -> object:
    """The loading of this set of models: started by the first session, shared by every later one."""
    return start_loading(_settings)


# The models load once per process, so the first question is timed answering, not loading.
loading = models_loading((settings.base_model, settings.lora_adapter, settings.reader_model, settings.scratch_model,
                          settings.embedder, settings.corpus_root, settings.index_dir), defaults)
if not loading.finished:
    if page.url_path in ANSWERING:
        bar = st.progress(loading.fraction, text=loading.text)
        while not loading.wait(0.25):
            bar.progress(loading.fraction, text=loading.text)
        bar.empty()
    else:
        @st.fragment(run_every=1.0)
        def loading_note() -> None:  # polls until the next full run, when loading is over
            st.progress(loading.fraction, text=loading.text if not loading.finished else "Models loaded")

        with st.sidebar:
            loading_note()
for problem in loading.problems:
    st.sidebar.warning(problem)

page.run()
