"""The real thing: `streamlit run app.py` on the micro models, driven by headless Chromium through Playwright."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import chromium_or_skip

from fourpaths.config import PROJECT_ROOT
from fourpaths.measure.browser import (
    ARTIFACTS,
    PAGE_TIMEOUT_MS,
    ask_and_wait,
    browser_page,
    go_to,
    open_app,
    page_errors,
    rerun_settled,
    served_app,
    settled,
    whole_page_screenshot,
)

FERRY = Path(__file__).parent / "data" / "fresh" / "brindlewick-ferry-timetable.md"
FERRY_QUESTION = "How much is an adult single fare on the Brindlewick ferry?"
# every page of app.py's st.navigation: its link in the sidebar, its title, the name of its screenshot
PAGES = [("Tour", "Four ways to put a model to work", "tour"), ("Compare", "One question, four paths", "compare"),
         ("Scoreboard", "Scoreboard", "scoreboard"),
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
            elif name == "tour":
                settled(page)
                expect(answer_timings(page)).to_have_count(4, timeout=PAGE_TIMEOUT_MS)
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
        rag = column(page, "RAG")
        expect(rag).to_have_count(1)
        rag.get_by_text("Anatomy").click()
        cited = rag.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(rf"^\[\d+\] {re.escape(source)} "))
        expect(cited.first).to_be_visible(timeout=30_000)
        assert_no_errors(page)
        shot(page, "fresh-upload")


PROJECTOR = {"width": 1400, "height": 1000}
TITLES = ["Tour", "Compare", "Scoreboard", "Cost to build", "Choose a path", "Fresh knowledge"]
FILE_NAMES = {"app", "_answers", "answers", "choose", "compare", "cost", "fresh", "scoreboard", "tour"}


def nav_titles(page) -> list[str]:
    """The sidebar's page links as shown: the icon's ligature name dropped, the title kept."""
    return [text.strip().splitlines()[-1].strip() for text in page.get_by_test_id("stSidebarNavLink").all_inner_texts()]


def answer_timings(page):
    """Each answered column's line of timings."""
    return page.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(r"^Answer by: .* first token "))


def column(page, title: str):
    """A path's answer column, found by its bold title (the innermost block that holds it)."""
    return page.get_by_test_id("stColumn").filter(has=page.get_by_text(title, exact=True)).last


def shown_answers(page) -> dict[str, str]:
    """Each path's answer text, as its column's largest line (an h4, or an h5 for a long one) shows it."""
    from fourpaths.answering.paths import PATHS

    return {path_id: column(page, path.title).locator("h4, h5").first.inner_text().strip()
            for path_id, path in PATHS.items()}


@pytest.mark.browser
def test_the_navigation_shows_page_titles_while_the_models_load(micro_env, measured, tmp_path):
    """A fresh machine builds the search index while loading: from the first paint the sidebar lists the titles
    (never pages/ file names), a progress bar says what is loading, and the Scoreboard is usable meanwhile."""
    chromium = chromium_or_skip()
    from playwright.sync_api import expect

    log = tmp_path / "streamlit.log"
    with served_app(log, FOURPATHS_RESULTS_DIR=str(measured), FOURPATHS_INDEX_DIR=str(tmp_path / "index")) as address, \
            browser_page(chromium, log, "loading", viewport=PROJECTOR) as page:
        page.goto(address, wait_until="domcontentloaded")
        links = page.get_by_test_id("stSidebarNavLink")
        expect(links.first).to_be_visible(timeout=60_000)
        progress = page.get_by_test_id("stProgress").filter(has_text="Loading")
        expect(progress.first).to_be_visible(timeout=30_000)
        seen = set(nav_titles(page))
        assert nav_titles(page) == TITLES and not seen & FILE_NAMES
        # while the models load, a page that needs none is drawn in full
        page.get_by_test_id("stSidebarNavLink").filter(has_text="Scoreboard").click()
        expect(page.get_by_role("heading", name="Scoreboard", level=1)).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=30_000)
        assert nav_titles(page) == TITLES
        go_to(page, "Compare", "One question, four paths")  # waits behind the bar until loaded
        expect(page.get_by_role("button", name="Ask", exact=True)).to_be_visible(timeout=PAGE_TIMEOUT_MS)
        assert nav_titles(page) == TITLES
        assert_no_errors(page)


@pytest.mark.browser
def test_a_template_switch_keeps_the_first_answers_marked_against_the_reference(micro_env, tmp_path):
    chromium = chromium_or_skip()
    from types import SimpleNamespace

    from playwright.sync_api import expect

    from fourpaths.config import load_settings
    from fourpaths.views.session import mark, reference_for

    log = tmp_path / "streamlit.log"
    with served_app(log) as address, browser_page(chromium, log, "template-switch", viewport=PROJECTOR) as page:
        open_app(page, address)
        page.get_by_role("combobox", name="Preset questions").click()
        page.get_by_role("option").nth(1).click()
        expect(page.get_by_text("Reference answer:")).to_be_visible(timeout=30_000)
        question = page.get_by_role("textbox", name="Question", exact=True).input_value()
        reference = reference_for(load_settings().corpus_root, question)
        assert reference is not None
        ask_and_wait(page)
        first = shown_answers(page)
        # each mark is the Scoreboard's judgement of the answer shown, in the columns' order
        expected = [mark(SimpleNamespace(text="" if text == "(empty answer)" else text, answered=True, total_ms=0.0),
                         reference).label for text in first.values()]
        from fourpaths.answering.paths import PATHS

        badges = [column(page, PATHS[path_id].title).locator(".stMarkdownBadge").first.inner_text().strip()
                  for path_id in first]
        assert badges == expected
        # the presenter switches the template: the first answers stay, under the settings they were asked with
        page.get_by_role("combobox", name="Prompt template (prompt path)").click()
        page.get_by_role("option", name="few-shot", exact=True).click()
        rerun_settled(page)
        # one line once the rerun is drawn (while it draws, the stale line can stand beside the new one)
        expect(page.get_by_text(re.compile(r"^Asked .* with zero-shot"))).to_have_count(1, timeout=30_000)
        expect(page.get_by_text(re.compile(r"^Asked .* with zero-shot"))).to_be_visible()
        assert shown_answers(page) == first
        ask_and_wait(page)
        expect(page.get_by_text(re.compile(r"^Asked .* with few-shot"))).to_have_count(1, timeout=30_000)
        expect(page.get_by_text(re.compile(r"^Asked .* with few-shot"))).to_be_visible()
        table = page.get_by_test_id("stDataFrame").last
        expect(page.get_by_role("heading", name="This session's questions (2)")).to_be_visible()
        expect(table).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the session report (HTML)").click()
        report = Path(download.value.path()).read_text(encoding="utf-8")
        assert report.count("<h2>") >= 3 and "with zero-shot" in report and "with few-shot" in report
        assert "<svg" in report and "<script" not in report
        assert_no_errors(page)
        shot(page, "template-switch")
        # the Tour draws no sidebar; back on Compare the sidebar still holds the presenter's choice
        chosen = page.get_by_role("combobox", name="Prompt template (prompt path)")
        expect(chosen).to_have_value("few-shot")
        go_to(page, "Tour", "Four ways to put a model to work")
        page.get_by_role("button", name=re.compile("^Next")).click()  # reruns on the Tour, where no sidebar is drawn
        rerun_settled(page)
        go_to(page, "Compare", "One question, four paths")
        expect(chosen).to_have_value("few-shot")


@pytest.mark.browser
def test_a_partial_run_again_leaves_the_full_figures_in_results(micro_env, measured, tmp_path):
    chromium = chromium_or_skip()
    from playwright.sync_api import expect

    results = shutil.copytree(measured, tmp_path / "results")
    before = (results / "eval.json").read_bytes()
    log = tmp_path / "streamlit.log"
    with served_app(log, FOURPATHS_RESULTS_DIR=str(results)) as address, \
            browser_page(chromium, log, "partial-rerun", viewport=PROJECTOR) as page:
        open_app(page, address)
        go_to(page, "Scoreboard", "Scoreboard")
        number = page.get_by_role("spinbutton", name="Only the first N questions (0: all)")
        number.fill("5")
        number.press("Enter")
        rerun_settled(page)
        page.get_by_role("button", name="Run again").click()
        expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("eval-partial.json",
                                                                             timeout=PAGE_TIMEOUT_MS)
        expect(page.get_by_text("Partial re-runs", exact=False)).to_be_visible()
        assert (results / "eval.json").read_bytes() == before
        assert (results / "eval-partial.json").is_file()
        assert_no_errors(page)
        shot(page, "partial-rerun")


@pytest.mark.browser
def test_the_tour_in_five_steps(micro_env, measured, tmp_path):
    """Each step asks its question live, shows the four columns and a takeaway from the measured figures; the
    fourth adds a document and RAG cites it; the session's report downloads from the Tour."""
    chromium = chromium_or_skip()
    from playwright.sync_api import expect

    from fourpaths.config import load_settings
    from fourpaths.views.tour import LIVE_DOCUMENT_NAME, STEPS, step_question, takeaway

    corpus = shutil.copytree(micro_env.corpus_root, tmp_path / "corpus")  # the micro corpus, with questions
    shipped = PROJECT_ROOT / "corpus"  # a few questions no document answers
    lines = (shipped / "qa" / "eval_unanswerable.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    (corpus / "qa" / "eval_unanswerable.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = replace(load_settings(), results_dir=str(measured))
    log = tmp_path / "streamlit.log"
    # the same documents: the micro index still fits (its fingerprint is the documents'), so nothing rebuilds
    with served_app(log, FOURPATHS_RESULTS_DIR=str(measured), FOURPATHS_CORPUS_ROOT=str(corpus)) as address, \
            browser_page(chromium, log, "tour", viewport=PROJECTOR) as page:
        open_app(page, address)
        go_to(page, "Tour", "Four ways to put a model to work")
        for number, step in enumerate(STEPS, start=1):
            expect(page.get_by_role("heading", name=f"{number}. {step.title}")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
            settled(page)
            expect(answer_timings(page)).to_have_count(4, timeout=PAGE_TIMEOUT_MS)
            # as the page renders it: a command in backticks is drawn as code
            expect(page.get_by_text(takeaway(step, settings).replace("`", ""), exact=True)).to_be_visible()
            if step.split is None:
                page.get_by_role("button", name="Add the document").click()
                expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(LIVE_DOCUMENT_NAME,
                                                                                     timeout=PAGE_TIMEOUT_MS)
                page.get_by_role("button", name="Ask again").click()
                expect(page.get_by_text(re.compile(rf"documents added: added/{re.escape(LIVE_DOCUMENT_NAME)}")))\
                    .to_be_visible(timeout=PAGE_TIMEOUT_MS)
                settled(page)
            assert_no_errors(page)
            shot(page, f"tour-{number}")
            if number < len(STEPS):
                page.get_by_role("button", name=re.compile(r"^Next: ")).click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the session report (HTML)").click()
        report = Path(download.value.path()).read_text(encoding="utf-8")
        questions = {step_question(step, corpus).question for step in STEPS}  # steps may share one here
        assert report.count("<svg") == len(questions) + 1  # the live step's question asked twice
