"""One browser session's Fresh knowledge (documents, taught adapter, teaching job), released when it ends."""

from __future__ import annotations

import uuid

import streamlit as st

from fourpaths.config import Settings
from fourpaths.fresh.jobs import Visitor


@st.cache_resource(scope="session", on_release=Visitor.close, show_spinner=False)
def _visitor(_settings: Settings, session_key: str) -> Visitor:
    return Visitor(_settings)


def session_visitor(settings: Settings) -> Visitor:
    """This session's Visitor. Session-scoped: Streamlit drops it, calling Visitor.close, the moment the browser
    disconnects, so a closed tab's teaching stops and its memory and folder are freed then; a later visitor's
    arrival (when Streamlit expires old session state) is not needed for it. The key kept in session state tells
    sessions apart where Streamlit gives them all one id (AppTest)."""
    key = st.session_state.setdefault("fresh_session_key", uuid.uuid4().hex)
    return _visitor(settings, key)
