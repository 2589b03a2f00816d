"""Choose a path: five factors in, a ranked recommendation out, each with the measured figures behind it. One
screen: the inputs and the ranking; the reasons, the evidence and the rules in expanders."""

import streamlit as st

from fourpaths.views import decision
from ui.settings import page_settings

settings = page_settings()
DEFAULTS = decision.Needs()

st.title("Choose a path")
st.caption("Describe the project; the paths are ranked by the rules and by what this app measured. "
           "The same ranking: `fourpaths choose --json`.")

evidence = decision.gather_evidence(settings)
inputs, results = st.columns([2, 3], gap="large")
labels = {}
with inputs:
    for name, (question, levels) in decision.FACTORS.items():
        labels[name] = st.select_slider(question, options=levels, value=levels[getattr(DEFAULTS, name)],
                                        key=f"choose_{name}")
needs = decision.Needs.from_labels(**labels)
ranking = decision.recommend(needs, evidence)
summary = decision.summary_markdown(needs, ranking, evidence, settings)

with results:
    for problem in (evidence.eval_problem, evidence.bench_problem):
        if problem:
            st.warning(f"Fewer measured figures: {problem}")
    st.subheader("Recommendation")
    st.markdown(f"**{decision.headline(ranking, needs)}**")
    st.dataframe(decision.ranking_frame(ranking))
    for number, recommendation in enumerate(ranking, start=1):
        with st.expander(f"{number}. {recommendation.title}: {recommendation.verdict} "
                         f"({recommendation.points:+d} points)"):
            st.markdown("\n".join(f"- {points:+d}: {why}" for points, why in recommendation.reasons)
                        or "No rule applies.")
            if recommendation.evidence:
                st.caption("Measured")
                st.markdown("\n".join(f"- {line}" for line in recommendation.evidence))
    row = st.container(horizontal=True)
    row.download_button("Download the summary (Markdown)", summary, file_name="fourpaths-recommendation.md",
                        mime="text/markdown", key="choose_download", icon=":material/download:")
    with row.popover("How the ranking is made"):
        st.markdown(decision.how_it_works())
        st.dataframe(decision.rules_frame(), hide_index=True)
