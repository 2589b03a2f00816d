"""Hostile text in a real browser: a question full of HTML and Markdown images, asked on the Compare page of
`streamlit run app.py` (micro models), makes no request beyond the app's own server and puts no element of its
own in the page."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from fourpaths.errors import FourpathsError
from fourpaths.measure.browser import (
    ask_and_wait,
    browser_page,
    open_app,
    page_errors,
    require_chromium,
    served_app,
)

HTML_IMAGE = "<img src=http://example.com/x.png>"
MARKDOWN_IMAGE = "![x](http://example.com/y.png)"
SCRIPT = "<script>window.hostileRan = true</script>"
QUESTION = f"{HTML_IMAGE} {MARKDOWN_IMAGE} {SCRIPT} How many days of paid annual leave does an employee receive?"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.mark.browser
def test_a_hostile_question_causes_no_outside_request_and_no_element(micro_env, tmp_path):
    try:
        chromium = require_chromium()
    except FourpathsError as error:
        pytest.skip(str(error))
    from playwright.sync_api import expect

    log = tmp_path / "streamlit.log"
    requested: list[str] = []
    with served_app(log) as address, browser_page(chromium, log, "hostile-question") as page:
        page.on("request", lambda request: requested.append(request.url))
        open_app(page, address)
        page.get_by_role("textbox", name="Question", exact=True).fill(QUESTION)
        ask_and_wait(page, answers=3)  # the answer head reads 64 tokens: its column says so in one line
        errors = page_errors(page)
        assert len(errors) == 1 and "tokens" in errors[0] and "shorten it" in errors[0], errors
        rag = page.get_by_test_id("stColumn").filter(has=page.get_by_text("RAG", exact=True)).last  # its bold title
        rag.get_by_text("Anatomy").click()
        # the question is there, as text: the reader's input, exactly as typed
        expect(rag.get_by_test_id("stCode").first).to_contain_text(HTML_IMAGE, timeout=30_000)
        expect(rag.get_by_test_id("stCode").first).to_contain_text(MARKDOWN_IMAGE)
        page.wait_for_timeout(1000)  # anything the page would fetch for what it drew has been asked for by now

        outside = [url for url in requested if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                   and urlsplit(url).hostname not in LOCAL_HOSTS]
        assert not outside, outside
        assert not [url for url in requested if "example.com" in url]
        assert page.locator("img[src*='example.com']").count() == 0
        assert page.evaluate("window.hostileRan === undefined")
        scripts = page.evaluate("Array.from(document.scripts, s => s.textContent)")
        assert not any("hostileRan" in script for script in scripts)
