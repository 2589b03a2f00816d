"""Cost to build: what each path took to exist, from the models' training summaries and results/bench.json."""

import streamlit as st

from fourpaths.errors import FourpathsError
from fourpaths.views import costs
from ui.settings import page_settings

settings = page_settings()

st.title("Cost to build")
st.caption("What each path took to exist, as its recipe recorded it beside the model (training_summary.json), "
           "and what an answer costs, as `fourpaths bench` measured it.")

path_costs = costs.path_costs(settings)
try:
    bench = costs.load_bench(settings)
except FourpathsError as error:
    bench = None
    st.warning(f"No speed or memory figures yet: {error}")

st.subheader("Side by side")
st.table(costs.display_table(costs.cost_table(path_costs, bench)))  # a table wraps its cells: none is cut

st.subheader("Each path")
for row in (list(path_costs.values())[:2], list(path_costs.values())[2:]):
    for column, cost in zip(st.columns(2), row):
        with column.container(border=True):
            st.markdown(f"**{cost.title}**")
            st.caption(costs.describe_cost(cost))
            figures = costs.headline_figures(cost)
            if figures:
                metrics = st.container(horizontal=True, wrap=True)
                for label, value in figures.items():
                    metrics.metric(label, value, width="content")
            curve = costs.loss_frame(cost.losses)
            if len(curve):
                st.line_chart(curve, x_label="step", height=220,
                              y_label="base pretraining loss" if cost.path_id == "prompt" else "training loss")
            else:
                st.info(f"No loss curve recorded for {cost.title}.")

if bench is not None:
    st.subheader("Per answer")
    # a path that extracts its answer has no tokens/s: a dash, not "None"
    st.dataframe(costs.speed_frame(bench).map(lambda v: "–" if v is None or v != v else
                                              f"{v:,.1f}" if isinstance(v, float) else v))
    memory = costs.memory_figures(bench)
    if memory:
        row = st.container(horizontal=True, wrap=True)
        for label, value in memory.items():
            row.metric(label, f"{value:,.0f}" if value >= 100 else f"{value:,.2f}", width="content")
    if bench.get("date") or bench.get("machine"):
        st.caption(f"Measured {bench.get('date', 'at an unrecorded date')} on "
                   f"{bench.get('machine', 'an unrecorded machine')}. Memory is the whole app's, every model "
                   "loaded: the paths share one process.")
