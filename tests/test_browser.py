"""The real thing: `streamlit run app.py` on the micro models, driven by headless Chromium through Playwright."""

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
from pathlib import Path
from typing import Iterator

import pytest

from fourpaths.config import PROJECT_ROOT
from fourpaths.approaches import APPROACH_IDS as PATH_IDS

ARTIFACTS = PROJECT_ROOT / "artifacts"
FERRY = Path(__file__).parent / "data" / "fresh" / "brindlewick-ferry-timetable.md"
FERRY_QUESTION = "How much is an adult single fare on the Brindlewick ferry?"
ANSWER_TIMEOUT_MS = 180_000
PAGE_TIMEOUT_MS = 120_000  # a page's first run: the Cost and Choose pages read every model's summary
SERVER_START_TIMEOUT_S = 90
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# every page of app.py's st.navigation: its link in the sidebar, its title, the name of its screenshot
PAGES = [("Compare", "One question, four paths", "compare"), ("Scoreboard", "Scoreboard", "scoreboard"),
         ("Cost to build", "Cost to build", "cost"), ("Choose a path", "Choose a path", "choose"),
         ("Fresh knowledge", "Fresh knowledge", "fresh")]


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


@contextmanager
def served_app(log: Path, **env_changes: str) -> Iterator[str]:
    """`streamlit run app.py` on a free port, healthy; yields its address. The environment is this process's
    (micro_env has put the FOURPATHS_* variables there) plus env_changes."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env_changes}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--server.runOnSave", "false"]
    with log.open("w", encoding="utf-8") as log_file:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_for_health(server, port, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(server)


@contextmanager
def browser_page(chromium: str, log: Path, failure_name: str):
    """A page of headless Chromium at 1600x1000; if the block fails, a screenshot of where it was
    (artifacts/screenshot-<failure_name>-failure.png) and the server's log."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            try:
                yield page
            except Exception:
                whole_page_screenshot(page, ARTIFACTS / f"screenshot-{failure_name}-failure.png")
                print(f"streamlit log:\n{tail(log)}")
                raise
        finally:
            browser.close()


def open_app(page, address: str) -> None:
    from playwright.sync_api import expect

    page.goto(address, wait_until="domcontentloaded", timeout=60_000)
    expect(page.get_by_role("heading", name="One question, four paths")).to_be_visible(timeout=60_000)
    settled(page)


def settled(page, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Until the script's run is over: Streamlit shows its running icon in the top bar while it runs."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0, timeout=timeout_ms)


def assert_no_errors(page) -> None:
    exceptions = page.get_by_test_id("stException")
    assert exceptions.count() == 0, exceptions.all_inner_texts()
    errors = page.get_by_test_id("stAlertContentError")
    assert errors.count() == 0, errors.all_inner_texts()


def go_to(page, link: str, title: str) -> None:
    """Through the sidebar's link, as a visitor would: the same session, so the sidebar's settings stay."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNavLink").filter(has_text=link).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    settled(page)


def whole_page_screenshot(page, path: Path) -> None:
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
    page.set_viewport_size({"width": viewport["width"], "height": int(height)})
    try:
        page.wait_for_timeout(500)  # the charts redraw for the new size
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(viewport)


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"screenshot-{name}.png"
    whole_page_screenshot(page, path)
    assert path.stat().st_size > 10_000
    return path


def ask_and_wait(page) -> None:
    """Ask, then wait for the four answers' figures, the latency chart and the end of the run."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Ask", exact=True).click()
    first_token = page.get_by_test_id("stMetricLabel").filter(has_text="First token")
    expect(first_token).to_have_count(len(PATH_IDS), timeout=ANSWER_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Latency")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stVegaLiteChart").last).to_be_visible(timeout=30_000)
    expect(page.get_by_text("From Ask to the last answer")).to_be_visible(timeout=30_000)
    settled(page)


@pytest.fixture(scope="module")
def measured(micro_settings, warm_index, tmp_path_factory) -> Path:
    """A results folder holding what `fourpaths eval --all --limit 2` and `fourpaths bench --json` write, made by
    the same functions on the micro models (as tests/test_pages.py does)."""
    from fourpaths.bench import run_bench
    from fourpaths.evaluation import evaluate_all, write_results
    from fourpaths.results_doc import write_json_atomically

    folder = tmp_path_factory.mktemp("results")
    write_results(evaluate_all(micro_settings, limit=2), folder / "eval.json")
    write_json_atomically(run_bench(micro_settings, cold_start=False), folder / "bench.json")
    return folder


@pytest.mark.browser
def test_compare_page_in_a_real_browser(micro_env, tmp_path):
    chromium = chromium_or_skip()
    from playwright.sync_api import expect

    log = tmp_path / "streamlit.log"
    with served_app(log) as address, browser_page(chromium, log, "compare") as page:
        open_app(page, address)
        # a preset question: open the selectbox, take the first preset, wait for its reference answer
        page.get_by_role("combobox", name="Preset questions").click()
        options = page.get_by_role("option")
        expect(options.nth(1)).to_be_visible(timeout=30_000)
        options.nth(1).click()
        expect(page.get_by_text("Reference answer:")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("textbox", name="Question", exact=True)).not_to_have_value("", timeout=30_000)

        ask_and_wait(page)
        for mode in ("generated", "answer head", "extractive reader"):
            expect(page.get_by_text(f"Answer by: {mode}").first).to_be_visible()
        expect(page.get_by_role("button", name="Download answers (JSON)")).to_be_visible()
        # the sidebar survives the reruns (AppTest's element tree leaves it out after the first)
        expect(page.get_by_role("heading", name="Settings")).to_be_visible()
        assert_no_errors(page)
        shot(page, "compare")


@pytest.mark.browser
def test_every_page_in_a_real_browser(micro_env, measured, tmp_path):
    """Each page of the navigation, reached by its sidebar link, draws its title and its figures, no exception:
    artifacts/screenshot-page-<name>.png."""
    chromium = chromium_or_skip()
    from playwright.sync_api import expect

    log = tmp_path / "streamlit.log"
    with served_app(log, FOURPATHS_RESULTS_DIR=str(measured)) as address, \
            browser_page(chromium, log, "pages") as page:
        open_app(page, address)
        links = page.get_by_test_id("stSidebarNavLink")
        assert links.count() == len(PAGES)
        for link, title, name in PAGES:
            go_to(page, link, title)
            assert page.get_by_role("heading", level=1).all_inner_texts() == [title]
            assert page.get_by_test_id("stAlertContentWarning").count() == 0, \
                page.get_by_test_id("stAlertContentWarning").all_inner_texts()  # the results files were read
            if name == "scoreboard":
                expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=30_000)
                expect(page.get_by_role("heading", name="Question by question")).to_be_visible()
            elif name == "cost":
                expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(4, timeout=30_000)  # a loss curve each
                expect(page.get_by_role("heading", name="Per answer")).to_be_visible()
            elif name == "choose":
                expect(page.get_by_role("heading", name="Recommendation")).to_be_visible()
                expect(page.get_by_text(re.compile(r"^1\. ")).first).to_be_visible()  # the ranking and its first card
            elif name == "fresh":
                expect(page.get_by_text("Nothing added yet: RAG searches the shipped documents only.")).to_be_visible()
            page.wait_for_timeout(500)  # the charts' drawing after their element is there
            assert_no_errors(page)
            shot(page, f"page-{name}")


@pytest.mark.browser
def test_fresh_knowledge_upload_then_rag_cites_it_in_a_real_browser(micro_env, tmp_path):
    """Issue 20: a .md file uploaded on Fresh knowledge is searched at once; RAG's sources name it."""
    chromium = chromium_or_skip()
    from playwright.sync_api import expect

    log = tmp_path / "streamlit.log"
    with served_app(log) as address, browser_page(chromium, log, "fresh-upload") as page:
        open_app(page, address)
        go_to(page, "Fresh knowledge", "Fresh knowledge")
        page.get_by_role("tab", name="Upload a file").click()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(FERRY))
        source = f"added/{FERRY.name}"
        expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Added {source}",
                                                                             timeout=PAGE_TIMEOUT_MS)
        expect(page.get_by_text(f"{source}: ", exact=False).first).to_be_visible()
        settled(page)

        page.get_by_role("textbox", name="Question", exact=True).fill(FERRY_QUESTION)
        ask_and_wait(page)
        rag = page.get_by_test_id("stColumn").filter(has=page.get_by_role("heading", name="RAG", exact=True))
        expect(rag).to_have_count(1)
        rag.get_by_text("Anatomy").click()
        cited = rag.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(rf"^\[\d+\] {re.escape(source)} "))
        expect(cited.first).to_be_visible(timeout=30_000)
        assert_no_errors(page)
        shot(page, "fresh-upload")
