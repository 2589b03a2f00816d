"""The README's screenshots: `streamlit run app.py` on the shipped models, each page in headless Chromium.

    .venv/bin/python docs/screenshots.py

Starts the app on a free local port with the default settings (any FOURPATHS_* variable is left out), then writes
docs/screenshot-<page>.png, 1400 px wide and as tall as the page: compare (after asking a question and waiting for
the four answers), scoreboard, cost, choose and fresh (after adding a short document and asking about it). The
Scoreboard, Cost and Choose pages read results/eval.json and results/bench.json: make them first (`fourpaths eval
--all`, `fourpaths bench --json`). Needs Playwright and a Chromium (FOURPATHS_CHROMIUM, else /usr/bin/chromium);
stops the app when done, and exits non-zero if a page fails or shows an exception.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("FOURPATHS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WINDOW = {"width": 1400, "height": 1000}
QUESTION = "How many days of annual leave do Quillmoor employees get?"
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def wait_for_health(server: subprocess.Popen, port: int, log: Path) -> None:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"streamlit exited with code {server.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    sys.exit(f"streamlit was not healthy at {url} after {START_S} s:\n{tail(log)}")


def settled(page, timeout_ms: int = PAGE_MS) -> None:
    """Until the script's run is over: Streamlit shows its running icon in the top bar while it runs."""
    expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0, timeout=timeout_ms)


def go_to(page, link: str, title: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=link).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=PAGE_MS)
    settled(page)


def ask_and_wait(page) -> None:
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="First token")).to_have_count(4, timeout=ANSWER_MS)
    expect(page.get_by_role("heading", name="Latency")).to_be_visible(timeout=30_000)
    settled(page)


def screenshot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls its main area inside the window, so the window is made as tall as the
    content (once its height stops changing) for the shot, then put back."""
    for box in ("stException", "stAlertContentError"):
        found = page.get_by_test_id(box)
        if found.count():
            raise RuntimeError(f"{name}: the page shows {box}: {found.all_inner_texts()}")
    measure = """() => Math.max(window.innerHeight, ...Array.from(
        document.querySelectorAll('[data-testid="stMain"], [data-testid="stSidebarContent"]'),
        element => element.scrollHeight))"""
    height, deadline = 0, time.monotonic() + 10
    while time.monotonic() < deadline:
        page.wait_for_timeout(300)
        now = page.evaluate(measure)
        if now == height:
            break
        height = now
    page.set_viewport_size({"width": WINDOW["width"], "height": int(height)})
    path = DOCS / f"screenshot-{name}.png"
    try:
        page.wait_for_timeout(1000)  # the charts redraw for the new size
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(WINDOW)
    print(f"wrote {path.relative_to(ROOT)}", flush=True)
    return path


def take(page, address: str) -> None:
    page.goto(address, wait_until="domcontentloaded", timeout=60_000)
    expect(page.get_by_role("heading", name="One question, four paths")).to_be_visible(timeout=60_000)
    settled(page, LOAD_MS)

    page.get_by_role("textbox", name="Question", exact=True).fill(QUESTION)
    ask_and_wait(page)
    screenshot(page, "compare")

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
    ask_and_wait(page)
    screenshot(page, "fresh")


def main() -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("FOURPATHS_")}
    env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "streamlit.log"
        with log.open("w", encoding="utf-8") as log_file:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_for_health(server, port, log)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport=WINDOW)
                    try:
                        take(page, f"http://127.0.0.1:{port}/")
                    except Exception:
                        failure = ROOT / "artifacts" / "screenshot-docs-failure.png"  # gitignored
                        failure.parent.mkdir(exist_ok=True)
                        page.screenshot(path=str(failure), full_page=True)
                        print(f"failed; where it was: {failure.relative_to(ROOT)}\nstreamlit log:\n{tail(log)}",
                              file=sys.stderr)
                        raise
                finally:
                    browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


if __name__ == "__main__":
    main()
