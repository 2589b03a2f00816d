"""The README's screenshots: `streamlit run app.py` on the shipped models, each page in headless Chromium.

    .venv/bin/python docs/screenshots.py

Starts the app on a free local port with the default settings (any FOURPATHS_* variable is left out), then writes
docs/screenshot-<page>.png, 1400 px wide and as tall as the page: compare (a question with a known reference
asked, the template switched, asked again), tour and tour-2 (its first two steps), scoreboard, cost, choose and
fresh (after adding a short document and asking about it). The
Scoreboard, Cost and Choose pages read results/eval.json and results/bench.json: make them first (`fourpaths eval
--all`, `fourpaths bench --json`). Needs Playwright and a Chromium (FOURPATHS_CHROMIUM, else chromium on PATH,
else /usr/bin/chromium); stops the app when done, and exits non-zero if a page fails or shows an exception.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect

from fourpaths.errors import FourpathsError
from fourpaths.measure.browser import (
    ask_and_wait,
    browser_page,
    go_to,
    open_app,
    page_errors,
    require_chromium,
    running_server,
    settled,
    whole_page_screenshot,
)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
WINDOW = {"width": 1400, "height": 1000}
QUESTION = "What is the Loomwork Standard subscription price per robot per month from 1 October 2026?"  # upd-u-001
SWITCHED_TEMPLATE = "few-shot"  # asked again under it: the Compare page keeps both rows
FRESH_NAME = "bike-to-work-2027.md"
FRESH_TEXT = """# Quillmoor bike-to-work scheme (2027)

From 1 March 2027, Quillmoor employees can lease an e-bike through the bike-to-work scheme. The monthly salary
deduction is £38 per bike, and each lease lasts 12 months. At the end of the lease the bike can be bought for £95.

## How to apply

Requests go to the facilities team at the Leeds office, who order the bike within 10 working days.
"""
FRESH_QUESTION = "What is the monthly salary deduction for the Quillmoor bike-to-work scheme?"
START_S = 120  # until the server answers its health check
LOAD_MS = 600_000  # the first run loads every shipped model
ANSWER_MS = 300_000
PAGE_MS = 120_000


def screenshot(page, name: str) -> Path:
    """The whole page, as tall as its content; refused if the page shows an exception or an error."""
    errors = page_errors(page)
    if errors:
        raise RuntimeError(f"{name}: the page shows errors: {errors}")
    path = DOCS / f"screenshot-{name}.png"
    whole_page_screenshot(page, path, redraw_ms=1000)
    print(f"wrote {path.relative_to(ROOT)}", flush=True)
    return path


def take(page, address: str) -> None:
    open_app(page, address, timeout_ms=LOAD_MS)

    page.get_by_role("textbox", name="Question", exact=True).fill(QUESTION)
    ask_and_wait(page, timeout_ms=ANSWER_MS)
    page.get_by_role("combobox", name="Prompt template (prompt path)").click()
    page.get_by_role("option", name=SWITCHED_TEMPLATE, exact=True).click()
    settled(page)
    ask_and_wait(page, timeout_ms=ANSWER_MS)
    screenshot(page, "compare")

    go_to(page, "Tour", "Four ways to put a model to work")
    settled(page, ANSWER_MS)
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="first token")).to_have_count(4)
    screenshot(page, "tour")
    page.get_by_role("button", name=re.compile(r"^Next: ")).click()
    expect(page.get_by_role("heading", name=re.compile(r"^2\. "))).to_be_visible(timeout=PAGE_MS)
    settled(page, ANSWER_MS)
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="first token")).to_have_count(4)
    screenshot(page, "tour-2")

    go_to(page, "Scoreboard", "Scoreboard")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=30_000)
    screenshot(page, "scoreboard")

    go_to(page, "Cost to build", "Cost to build")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=30_000)
    screenshot(page, "cost")

    go_to(page, "Choose a path", "Choose a path")
    expect(page.get_by_role("heading", name="Recommendation")).to_be_visible(timeout=30_000)
    screenshot(page, "choose")

    go_to(page, "Fresh knowledge", "Fresh knowledge")
    page.get_by_role("textbox", name="Name").fill(FRESH_NAME)
    page.get_by_role("textbox", name="Text", exact=True).fill(FRESH_TEXT)
    page.get_by_role("button", name="Add the text").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"added/{FRESH_NAME}", timeout=PAGE_MS)
    settled(page)
    page.get_by_role("textbox", name="Question", exact=True).fill(FRESH_QUESTION)
    ask_and_wait(page, timeout_ms=ANSWER_MS)
    screenshot(page, "fresh")


def main() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("FOURPATHS_")}
    try:
        chromium = require_chromium()
        with tempfile.TemporaryDirectory() as folder:
            log = Path(folder) / "streamlit.log"
            with running_server(log, env, timeout_s=START_S) as server, \
                    browser_page(chromium, log, "docs", viewport=WINDOW) as page:
                take(page, server.address)
    except FourpathsError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
