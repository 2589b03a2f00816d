"""The real thing: `streamlit run app.py` on the micro models, driven by headless Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fourpaths.config import PROJECT_ROOT
from fourpaths.approaches import APPROACH_IDS as PATH_IDS

ARTIFACTS = PROJECT_ROOT / "artifacts"
SCREENSHOT = ARTIFACTS / "screenshot-compare.png"
ANSWER_TIMEOUT_MS = 180_000
SERVER_START_TIMEOUT_S = 90
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    """FOURPATHS_CHROMIUM, else chromium on PATH, else Debian's /usr/bin/chromium."""
    candidates = [os.environ.get("FOURPATHS_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def chromium_or_skip() -> str:
    chromium = find_chromium()
    if chromium is None:
        reason = ("no Chromium found: set FOURPATHS_CHROMIUM, put chromium on PATH or install Debian's chromium "
                  "(/usr/bin/chromium)")
        if os.environ.get("FOURPATHS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FOURPATHS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return chromium


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def wait_for_health(server: subprocess.Popen, port: int, log: Path) -> None:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with code {server.returncode} before it was healthy:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"streamlit was not healthy at {url} after {SERVER_START_TIMEOUT_S} s:\n{tail(log)}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@pytest.mark.browser
def test_compare_page_in_a_real_browser(micro_env, tmp_path):
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    log = tmp_path / "streamlit.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # micro_env has put the FOURPATHS_* variables here
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--server.runOnSave", "false"]
    with log.open("w", encoding="utf-8") as log_file:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_for_health(server, port, log)
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                try:
                    page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded", timeout=60_000)
                    expect(page.get_by_role("heading", name="One question, four paths")).to_be_visible(timeout=60_000)

                    # a preset question: open the selectbox, take the first preset, wait for its reference answer
                    page.get_by_role("combobox", name="Preset questions").click()
                    options = page.get_by_role("option")
                    expect(options.nth(1)).to_be_visible(timeout=30_000)
                    options.nth(1).click()
                    expect(page.get_by_text("Reference answer:")).to_be_visible(timeout=30_000)
                    expect(page.get_by_role("textbox", name="Question", exact=True)).not_to_have_value("", timeout=30_000)

                    page.get_by_role("button", name="Ask").click()
                    first_token = page.get_by_test_id("stMetricLabel").filter(has_text="First token")
                    expect(first_token).to_have_count(len(PATH_IDS), timeout=ANSWER_TIMEOUT_MS)
                    expect(page.get_by_role("heading", name="Latency")).to_be_visible(timeout=30_000)
                    expect(page.get_by_test_id("stVegaLiteChart").last).to_be_visible(timeout=30_000)
                    expect(page.get_by_text("From Ask to the last answer")).to_be_visible(timeout=30_000)
                    for mode in ("generated", "answer head", "extractive reader"):
                        expect(page.get_by_text(f"Answer by: {mode}").first).to_be_visible()
                    expect(page.get_by_role("button", name="Download answers (JSON)")).to_be_visible()
                    # the sidebar survives the reruns (AppTest's element tree leaves it out after the first)
                    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
                    assert page.get_by_test_id("stException").count() == 0
                    assert page.get_by_test_id("stAlertContentError").count() == 0
                    page.screenshot(path=str(SCREENSHOT), full_page=True)
                except Exception:
                    page.screenshot(path=str(ARTIFACTS / "screenshot-compare-failure.png"), full_page=True)
                    print(f"streamlit log:\n{tail(log)}")
                    raise
            finally:
                browser.close()
    finally:
        stop(server)
    assert SCREENSHOT.stat().st_size > 10_000
