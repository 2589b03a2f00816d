"""The real app in a real browser: `streamlit run app.py` on a free local port, and headless Chromium pages on it.

Used by the browser tests, docs/screenshots.py and `fourpaths load`. Playwright is imported inside the functions
that need it, so the package imports without it; a missing server start or Chromium is a FourpathsError.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from fourpaths.config import PROJECT_ROOT
from fourpaths.errors import FourpathsError

SERVER_START_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 120_000  # a page's first run: the Cost and Choose pages read every model's summary
ANSWER_TIMEOUT_MS = 180_000
ARTIFACTS = PROJECT_ROOT / "artifacts"  # gitignored: screenshots of where a browser run failed
WINDOW = {"width": 1600, "height": 1000}
APP_TITLE = "One question, four paths"
# no GPU, no background traffic: Chromium shares the app's cores and must never reach outside
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHROMIUM_HINT = ("set FOURPATHS_CHROMIUM, put chromium on PATH or install Debian's chromium (/usr/bin/chromium)")


@dataclass(frozen=True)
class Server:
    """A running `streamlit run app.py`: where a browser reaches it, and its process (for its memory)."""

    address: str
    pid: int
    log: Path


def find_chromium() -> str | None:
    """FOURPATHS_CHROMIUM, else chromium on PATH, else Debian's /usr/bin/chromium."""
    candidates = [os.environ.get("FOURPATHS_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_chromium() -> str:
    """The Chromium to drive, or a FourpathsError saying how to get one."""
    chromium = find_chromium()
    if chromium is None:
        raise FourpathsError(f"no Chromium found: {CHROMIUM_HINT}")
    return chromium


def require_playwright() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise FourpathsError("Playwright is not installed: pip install playwright (its browser download is not "
                             f"needed; {CHROMIUM_HINT})") from None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _last_line(path: Path) -> str:
    lines = [line for line in tail(path, 20).splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(empty log)"


def wait_for_health(server: subprocess.Popen, port: int, log: Path,
                    timeout_s: float = SERVER_START_TIMEOUT_S) -> None:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise FourpathsError(f"streamlit exited with code {server.returncode} before it was healthy "
                                 f"(log {log}): {_last_line(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise FourpathsError(f"streamlit was not healthy at {url} after {timeout_s:g} s (log {log}): {_last_line(log)}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@contextmanager
def running_server(log: Path, env: Mapping[str, str] | None = None,
                   timeout_s: float = SERVER_START_TIMEOUT_S) -> Iterator[Server]:
    """`streamlit run app.py` on a free port, healthy; yields the Server, stops it after. The environment is
    env (default: this process's), unbuffered so the log is current."""
    port = free_port()
    environment = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--server.runOnSave", "false"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as log_file:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=log_file,
                                  stderr=subprocess.STDOUT)
    try:
        wait_for_health(server, port, log, timeout_s)
        yield Server(address=f"http://127.0.0.1:{port}/", pid=server.pid, log=log)
    finally:
        stop(server)


@contextmanager
def served_app(log: Path, **env_changes: str) -> Iterator[str]:
    """The address of `streamlit run app.py` on this process's environment plus env_changes."""
    with running_server(log, {**os.environ, **env_changes}) as server:
        yield server.address


def open_app(page, address: str, timeout_ms: int = 60_000) -> None:
    """Go to the app and wait until the Compare page's first run is over (timeout_ms for each step)."""
    from playwright.sync_api import expect

    page.goto(address, wait_until="domcontentloaded", timeout=60_000)
    expect(page.get_by_role("heading", name=APP_TITLE)).to_be_visible(timeout=timeout_ms)
    settled(page, max(timeout_ms, PAGE_TIMEOUT_MS))


def settled(page, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Until the script's run is over: Streamlit shows its running icon in the top bar while it runs."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0, timeout=timeout_ms)


def rerun_settled(page, start_ms: int = 5_000, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """After a widget change: until the rerun it starts is over. Waiting only for the running icon's absence can
    pass before the rerun begins, and its stale elements then stand beside the new ones after the check."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    try:
        expect(page.get_by_test_id("stStatusWidgetRunningIcon")).not_to_have_count(0, timeout=start_ms)
    except (AssertionError, PlaywrightTimeout):
        pass  # a rerun shorter than the icon's delay: over before it showed
    settled(page, timeout_ms)


def go_to(page, link: str, title: str) -> None:
    """Through the sidebar's link, as a visitor would: the same session, so the sidebar's settings stay."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNavLink").filter(has_text=link).click()
    heading = page.get_by_role("heading", name=title, level=1)
    # While the page reruns, the old run's heading can stand beside the new one until the run ends.
    expect(heading.first).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    settled(page)
    expect(heading).to_have_count(1, timeout=PAGE_TIMEOUT_MS)


def page_errors(page) -> list[str]:
    """The texts of the exceptions and error alerts the page shows."""
    return (page.get_by_test_id("stException").all_inner_texts()
            + page.get_by_test_id("stAlertContentError").all_inner_texts())


def whole_page_screenshot(page, path: Path, redraw_ms: int = 500) -> None:
    """The whole page, not only the window: Streamlit scrolls its main area inside the window (the document is
    the window's height, so full_page alone takes the window), so the window is made as tall as the content,
    once its height has stopped changing (an expander opens with an animation)."""
    viewport = page.viewport_size
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
    path.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": viewport["width"], "height": int(height)})
    try:
        page.wait_for_timeout(redraw_ms)  # the charts redraw for the new size
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(viewport)


def ask_and_wait(page, timeout_ms: int = ANSWER_TIMEOUT_MS, answers: int | None = None) -> None:
    """Click Ask on the Compare page, then wait for the answers' figures (`answers` of them, every path's by
    default), the latency chart and the end of the run. The page keeps the last answers on screen, each set under
    "Asked <time> with <settings>": when answers are there already, the wait is for that line to change."""
    from playwright.sync_api import expect

    from fourpaths.answering.paths import PATH_IDS

    asked = page.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(r"^Asked \d\d:\d\d:\d\d with "))
    before = asked.first.inner_text() if asked.count() else None
    page.get_by_role("button", name="Ask", exact=True).click()
    if before is not None:
        expect(asked.first).not_to_have_text(before, timeout=timeout_ms)
    timings = page.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(r"^Answer by: .* first token "))
    expect(timings).to_have_count(len(PATH_IDS) if answers is None else answers, timeout=timeout_ms)
    expect(page.get_by_role("heading", name="Latency")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stVegaLiteChart").last).to_be_visible(timeout=30_000)
    expect(page.get_by_text("From Ask to the last answer")).to_be_visible(timeout=30_000)
    settled(page)


@contextmanager
def browser_page(chromium: str, log: Path, failure_name: str, viewport: Mapping[str, int] | None = None,
                 failures: Path = ARTIFACTS):
    """A page of headless Chromium (1600x1000 unless viewport says); if the block fails, a screenshot of where it
    was (<failures>/screenshot-<failure_name>-failure.png) and the server's log on stdout."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=dict(viewport or WINDOW))
            try:
                yield page
            except Exception:
                whole_page_screenshot(page, failures / f"screenshot-{failure_name}-failure.png")
                print(f"streamlit log:\n{tail(log)}")
                raise
        finally:
            browser.close()
