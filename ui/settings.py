"""The settings a page works with: the sidebar's choices, which app.py puts in the session."""

from __future__ import annotations

import streamlit as st

from fourpaths.config import Settings, load_settings


def page_settings() -> Settings:
    """The sidebar's current settings; the configured ones where a page runs on its own (as in page tests)."""
    return st.session_state.get("settings") or load_settings()
