"""The real thing: `streamlit run app.py` on the micro models, driven by headless Chromium through Playwright."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import chromium_or_skip

from fourpaths.measure.browser import (
    ARTIFACTS,
    PAGE_TIMEOUT_MS,
    ask_and_wait,
    browser_page,
    go_to,
    open_app,
    page_errors,
    served_app,
    settled,
    whole_page_screenshot,
)

FERRY = Path(__file__).parent / "data" / "fresh" / "brindlewick-ferry-timetable.md"
FERRY_QUESTION = "How much is an adult single fare on the Brindlewick ferry?"
# every page of app.py's st.navigation: its link in the sidebar, its title, the name of its screenshot
PAGES = [("Compare", "One question, four paths", "compare"), ("Scoreboard", "Scoreboard", "scoreboard"),
         ("Cost to build", "Cost to build", "cost"), ("Choose a path", "Choose a path", "choose"),
         ("Fresh knowledge", "Fresh knowledge", "fresh")]




def assert_no_errors(page) -> None:
    errors = page_errors(page)
    assert not errors, errors


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"screenshot-{name}.png"
    whole_page_screenshot(page, path)
    assert path.stat().st_size > 10_000
    return path


@pytest.fixture(scope="module")
def measured(micro_settings, warm_index, tmp_path_factory) -> Path:
    """A results folder holding what `fourpaths eval --all --limit 2` and `fourpaths bench --json` write, made by
    the same functions on the micro models (as tests/test_pages.py does)."""
    from fourpaths.measure.bench import run_bench
    from fourpaths.measure.evaluation import evaluate_all, write_results
    from fourpaths.retrieval.files import write_json_atomically

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
