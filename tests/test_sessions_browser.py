"""A visitor's session in a real browser (`streamlit run app.py`, micro models, headless Chromium): closing the tab
while the adapter is taught stops the teaching at once and writes nothing, and a message about a file named like
a web address shows no stray escape."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fourpaths.errors import FourpathsError
from fourpaths.measure.browser import browser_page, require_chromium, running_server
from fourpaths.measure.load_test import _descendants, cpu_seconds

FERRY = Path(__file__).parent / "data" / "fresh" / "brindlewick-ferry-timetable.md"


def chromium_or_skip() -> str:
    try:
        return require_chromium()
    except FourpathsError as error:
        pytest.skip(str(error))


def open_fresh(page, address: str) -> None:
    from playwright.sync_api import expect

    page.goto(address + "fresh", wait_until="domcontentloaded", timeout=60_000)
    expect(page.get_by_role("heading", name="Fresh knowledge")).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0, timeout=120_000)


@pytest.mark.browser
def test_closing_the_tab_stops_teaching_and_writes_no_adapter(micro_env, tmp_path):
    from playwright.sync_api import expect

    chromium = chromium_or_skip()
    temporary = tmp_path / "tmp"  # the server's temporary folder: where a session's adapter would be written
    temporary.mkdir()
    log = tmp_path / "streamlit.log"
    with running_server(log, {**os.environ, "TMPDIR": str(temporary)}) as server, \
            browser_page(chromium, log, "close-while-teaching") as page:
        open_fresh(page, server.address)
        page.get_by_label("Name").fill(FERRY.name)
        page.get_by_label("Text", exact=True).fill(FERRY.read_text(encoding="utf-8"))
        page.get_by_role("button", name="Add the text").click()
        expect(page.get_by_text(f"Added added/{FERRY.name}")).to_be_visible(timeout=120_000)
        page.get_by_role("button", name="Propose pairs").click()
        expect(page.locator('[data-testid="stDataFrame"] [role="row"]').nth(1)).to_be_attached(timeout=120_000)
        slider = page.get_by_test_id("stSlider").filter(has_text="Budget").get_by_role("slider")
        slider.focus()
        slider.press("Home")  # 10 s: left alone, it would be taught and saved well within the wait below
        page.get_by_role("button", name="Teach", exact=True).click()
        expect(page.get_by_text("Teaching: step")).to_be_visible(timeout=120_000)
        page.close()  # the tab: its websocket closes, Streamlit ends the session

        time.sleep(40)  # twice what teaching 10 s, measuring and saving take on the micro models
        written = [path for path in temporary.rglob("*") if path.name.startswith("adapter-")]
        assert not written, written
        processes = [server.pid] + _descendants(server.pid)
        before = cpu_seconds(processes)
        time.sleep(5)
        assert cpu_seconds(processes) - before < 1.0, "the server still works after every tab closed"


@pytest.mark.browser
def test_a_message_about_a_web_address_like_name_shows_no_escape(micro_env, tmp_path):
    from playwright.sync_api import expect

    chromium = chromium_or_skip()
    log = tmp_path / "streamlit.log"
    with running_server(log) as server, browser_page(chromium, log, "web-address-name") as page:
        open_fresh(page, server.address)
        page.get_by_label("Name").fill("www.example.invalid.md")
        page.get_by_label("Text", exact=True).fill("   ")
        page.get_by_role("button", name="Add the text").click()
        error = page.get_by_test_id("stAlertContentError").first
        expect(error).to_be_visible(timeout=60_000)
        assert error.inner_text().strip() == "www.example.invalid.md: the text is empty"
