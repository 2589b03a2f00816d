"""fourpaths: the router. Shared sidebar settings, then the page the user picked."""

import streamlit as st

from fourpaths.config import RAG_ANSWER_MODES, RETRIEVAL_MODES, load_settings, with_overrides
from fourpaths.prompts import PROMPT_TEMPLATES

st.set_page_config(page_title="fourpaths", page_icon="🛤️", layout="wide")

defaults = load_settings()
with st.sidebar:
    st.header("Settings")
    template = st.selectbox("Prompt template (prompt path)", list(PROMPT_TEMPLATES),
                            index=list(PROMPT_TEMPLATES).index(defaults.template))
    max_new_tokens = st.slider("Max new tokens", 8, 128, defaults.max_new_tokens, step=8)
    decoding = st.radio("Decoding", ["greedy", "sampled"], horizontal=True)
    temperature = st.slider("Temperature", 0.1, 1.5, 0.7, step=0.1, disabled=decoding == "greedy")
    seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=defaults.seed, step=1)
    top_k = st.slider("Passages retrieved (RAG top-k)", 1, 5, defaults.top_k_passages)
    retrieval = st.radio("RAG retrieval", list(RETRIEVAL_MODES), horizontal=True,
                         index=list(RETRIEVAL_MODES).index(defaults.retrieval),
                         help="hybrid: FAISS embeddings and BM25 keywords, fused by rank; dense: FAISS alone")
    rag_answer = st.radio("RAG answer", list(RAG_ANSWER_MODES), horizontal=True, key="rag_answer",
                          index=list(RAG_ANSWER_MODES).index(defaults.rag_answer),
                          help="quote: every token the base writes continues a retrieved passage, so the answer "
                               "can only say what the documents say; free: the base writes whatever it likes")
    evidence = st.slider("RAG evidence sentences", 0, 5, defaults.evidence_sentences, disabled=rag_answer != "quote",
                         help="a quote starts at one of this many sentences, those the embedder ranks best against "
                              "the question (the anatomy lists them); 0: the base chooses among all of them")
    min_sentences = st.slider("RAG quote: least sentences", 1, 3, defaults.min_quote_sentences,
                              disabled=rag_answer != "quote",
                              help="a quote holds at least this many sentences, or runs to its passage's end")
    quote_tokens = st.slider("RAG quote: max new tokens", 16, 192, defaults.quote_max_new_tokens, step=16,
                             disabled=rag_answer != "quote",
                             help="a quote's own budget, so that it ends where its sentence does")

st.session_state["settings"] = with_overrides(
    defaults, template=template, max_new_tokens=max_new_tokens, seed=int(seed), top_k_passages=top_k,
    retrieval=retrieval, rag_answer=rag_answer, evidence_sentences=evidence, min_quote_sentences=min_sentences,
    quote_max_new_tokens=quote_tokens,
    temperature=temperature if decoding == "sampled" else 0.0,
)

page = st.navigation([st.Page("pages/compare.py", title="Compare", icon="⚖️", default=True)])
page.run()
