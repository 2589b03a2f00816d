"""A teaching job as the Fresh knowledge page shows it, redrawn every second while it runs: its place in the line,
its phase, each step as it happens, and the loss of every step as a point on a chart."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from fourpaths.fresh.jobs import TeachJob

LABELS = {
    "preparing": "Preparing: loading the model and the data ({seconds:.0f} s; not counted in the budget)",
    "paused": "Paused: giving way to other visitors' questions (not counted in the budget)",
    "measuring": "Measuring what it learnt ({seconds:.0f} s; not counted in the budget)",
}


def loss_chart(losses: list[tuple[int, float]]) -> alt.Chart:
    """Training loss by step, a point per step (a line alone draws nothing for the first step)."""
    frame = pd.DataFrame(losses, columns=["step", "training loss"])
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("step:Q", axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(domainMin=1)),
        y=alt.Y("training loss:Q", scale=alt.Scale(zero=False)))


def show_job(job: TeachJob) -> None:
    @st.fragment(run_every=1 if not job.done else None)
    def progress() -> None:
        status = job.status()
        if not status.finished:
            if status.state == "queued":
                ahead = status.ahead
                st.info(f"Waiting to teach: {ahead} teaching job{'s' if ahead != 1 else ''} ahead (one at a time "
                        "on this server); the budget starts when this one does")
            elif status.state == "training":
                st.progress(min(1.0, status.train_seconds / status.budget_s),
                            text=f"Teaching: step {len(status.losses)}, {status.train_seconds:.1f} s of "
                                 f"{status.budget_s:.0f} s")
            else:
                st.info(LABELS[status.state].format(seconds=status.phase_seconds))
            st.button("Cancel", key="fresh_cancel", disabled=job.cancelled, on_click=job.cancel)
        if status.losses:
            st.altair_chart(loss_chart(status.losses), width="stretch")
        if status.finished and st.session_state.get("fresh_job_shown") != id(job):
            st.session_state["fresh_job_shown"] = id(job)
            st.rerun()  # the whole page: the results below and the LoRA column now use the new adapter

    progress()
