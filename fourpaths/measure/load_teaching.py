"""`fourpaths load --teach T`: T sessions teach the adapter on the Fresh knowledge page while the askers ask.

After the askers' run without teaching (fourpaths/measure/load_test.py), the sessions close and, SETTLE_S later, the
server's resident memory is the cold idle figure. One session then teaches once, untimed, and closes: the first job
in a process pages in the library code of the backward pass for good, so SETTLE_S after it closes is the idle
figure, that of a server that has taught, as the askers' run begins after an untimed question. Then T new sessions
each paste a document no model saw (tests/data/fresh/), propose pairs and press Teach with the given budget; once
the first is training, the askers (new sessions, the same questions) ask all at once. Measured: the askers' latency
while the teachers teach, each teacher's outcome, the server's resident memory every SAMPLE_S (its peak while
teaching), and, SETTLE_S after every session closed, its memory again: what the ended sessions left behind.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fourpaths.config import PROJECT_ROOT
from fourpaths.errors import one_line
from fourpaths.fresh.memory import anonymous_mb, resident_mb

TEACH_DOCUMENTS = sorted(path for path in (PROJECT_ROOT / "tests" / "data" / "fresh").glob("*.md")
                         if path.name != "README.md")
SETTLE_S = 30.0  # after the sessions close, before memory is read: the "30 s after the sessions close"
SAMPLE_S = 0.5
OPEN_TIMEOUT_MS = 120_000
STEP_TIMEOUT_MS = 120_000  # adding a document, proposing pairs, the job's first state
PROPOSE_ATTEMPTS = 3
PAIR_ROWS = '[data-testid="stDataFrame"] [role="row"]'  # the pairs table's rows (its header is the first)
SLIDER_STEP_S = 10  # the budget slider's step (pages/fresh.py), from its minimum of 10 s
# The page's states (ui/teaching.py): a job is under way once one of these shows; done once a report or error does.
UNDER_WAY = ("Waiting to teach", "Preparing:", "Teaching: step", "Paused:", "Measuring what it learnt")
DONE = "What it cost"


@dataclass
class TeacherRun:
    document: str
    ms: float | None = None  # Teach click to the report (or error) drawn
    error: str | None = None
    cost: str | None = None  # the report's cost line, as the page shows it
    states: list[str] = field(default_factory=list)  # every state label the page drew


def server_resident_mb(pid: int, measure=resident_mb) -> float:
    """The server's resident memory now (or another `measure` of it), with its descendants'."""
    from fourpaths.measure.load_test import _descendants

    return round(sum(measure(process) or 0.0 for process in [pid] + _descendants(pid)), 1)


async def settled_memory(pid: int) -> tuple[float, float]:
    """SETTLE_S from now, the server's resident memory and its own data (anonymous) part."""
    await asyncio.sleep(SETTLE_S)
    return server_resident_mb(pid), server_resident_mb(pid, anonymous_mb)


async def sample_memory(pid: int, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(server_resident_mb(pid))
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_S)
        except asyncio.TimeoutError:
            pass


async def open_teacher(browser, address: str):
    from playwright.async_api import expect

    from fourpaths.measure.load_test import QUIET_CSS, WINDOW, settled

    context = await browser.new_context(viewport=WINDOW, reduced_motion="reduce")
    page = await context.new_page()
    await page.goto(address + "fresh", wait_until="domcontentloaded", timeout=60_000)
    await page.add_style_tag(content=QUIET_CSS)
    await expect(page.get_by_role("heading", name="Fresh knowledge")).to_be_visible(timeout=OPEN_TIMEOUT_MS)
    await settled(page, OPEN_TIMEOUT_MS)
    return context, page


async def start_teaching(page, document: Path, budget_s: float, run: TeacherRun) -> float:
    """Add the document, propose pairs, set the budget, press Teach; returns when the click was."""
    from playwright.async_api import expect

    from fourpaths.measure.load_test import settled

    await page.get_by_label("Name").fill(document.name)
    await page.get_by_label("Text", exact=True).fill(document.read_text(encoding="utf-8"))
    await page.get_by_role("button", name="Add the text").click()
    await expect(page.get_by_text(f"Added added/{document.name}")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await settled(page, STEP_TIMEOUT_MS)
    slider = page.get_by_test_id("stSlider").filter(has_text="Budget").get_by_role("slider")
    await slider.focus()
    await slider.press("Home")
    for _ in range(max(0, round((budget_s - SLIDER_STEP_S) / SLIDER_STEP_S))):
        await slider.press("ArrowRight")
    await settled(page, STEP_TIMEOUT_MS)
    await propose(page)
    await settled(page, STEP_TIMEOUT_MS)
    clicked = time.perf_counter()
    await page.get_by_role("button", name="Teach", exact=True).click()
    await wait_for_text(page, UNDER_WAY + (DONE,), STEP_TIMEOUT_MS, run)
    return clicked


async def propose(page) -> None:
    """Press Propose pairs until the table has rows: a click that lands while the page reruns for the one before
    can be lost (the run it asked for is replaced by the next), and Teach would then find no pairs."""
    from playwright.async_api import expect

    for attempt in range(PROPOSE_ATTEMPTS):
        await page.get_by_role("button", name="Propose pairs").click()
        try:
            await expect(page.locator(PAIR_ROWS).nth(1)).to_be_attached(timeout=STEP_TIMEOUT_MS // PROPOSE_ATTEMPTS)
            return
        except AssertionError:
            if attempt == PROPOSE_ATTEMPTS - 1:
                raise


async def wait_for_text(page, texts: tuple[str, ...], timeout_ms: int, run: TeacherRun) -> str:
    """Wait until one of the texts shows (or an error box); record each state label seen on the way."""
    deadline = time.perf_counter() + timeout_ms / 1000
    while time.perf_counter() < deadline:
        body = await page.inner_text("body")
        for label in UNDER_WAY:
            if label in body and label not in run.states:
                run.states.append(label)
        errors = await page.get_by_test_id("stAlertContentError").all_inner_texts()
        if errors:
            raise RuntimeError(" ".join(errors[0].split())[:200])
        for text in texts:
            if text in body:
                return text
        await asyncio.sleep(SAMPLE_S)
    raise TimeoutError(f"not after {timeout_ms} ms: {' or '.join(texts)}")


def teaching_timeout_ms(budget_s: float) -> int:
    """How long a job may take from Teach to its report: queued behind the others, paused for questions."""
    return int(1000 * (budget_s * 4 + 600))


async def teach_to_the_end(page, clicked: float, run: TeacherRun, timeout_ms: int) -> None:
    try:
        await wait_for_text(page, (DONE,), timeout_ms, run)
        run.ms = round(1000 * (time.perf_counter() - clicked), 1)
        lines = [line for line in (await page.inner_text("body")).splitlines() if "examples (" in line]
        run.cost = lines[0].strip() if lines else None
    except Exception as error:  # noqa: BLE001 - a teacher's failure is one of the run's errors
        run.error = f"{type(error).__name__}: {one_line(error)}"


async def teaching_phase(browser, address: str, server_pid: int, sets: list[list[str]], teachers: int,
                         budget_s: float, progress: Callable[[str], None]) -> dict:
    """The askers' run again with `teachers` sessions teaching; memory idle before, peak during, and after."""
    from fourpaths.measure.load_test import QUESTION_TIMEOUT_MS, SessionRun, open_session, run_session

    progress(f"teaching: waiting {SETTLE_S:.0f} s for the closed sessions to be released, then the cold idle memory")
    cold_mb, cold_anonymous_mb = await settled_memory(server_pid)
    progress("teaching: one session teaches once, untimed (the process's first job); then the idle memory")
    warm_up = TeacherRun(TEACH_DOCUMENTS[0].name)
    context, page = await open_teacher(browser, address)
    try:
        clicked = await start_teaching(page, TEACH_DOCUMENTS[0], SLIDER_STEP_S, warm_up)
        await teach_to_the_end(page, clicked, warm_up, teaching_timeout_ms(SLIDER_STEP_S))
    except Exception as error:  # noqa: BLE001 - one of the run's errors
        warm_up.error = f"starting: {type(error).__name__}: {one_line(error)}"
    finally:
        await context.close()
    idle_mb, idle_anonymous_mb = await settled_memory(server_pid)
    samples: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(server_pid, samples, stop))
    contexts = []
    runs = [TeacherRun(TEACH_DOCUMENTS[i % len(TEACH_DOCUMENTS)].name) for i in range(teachers)]
    askers = [SessionRun(questions) for questions in sets]
    try:
        progress(f"teaching: {teachers} sessions add a document and press Teach ({budget_s:.0f} s budget each)")
        teacher_pages = []
        for run in runs:
            context, page = await open_teacher(browser, address)
            contexts.append(context)
            try:
                teacher_pages.append((page, run, await start_teaching(
                    page, PROJECT_ROOT / "tests" / "data" / "fresh" / run.document, budget_s, run)))
            except Exception as error:  # noqa: BLE001 - one of the run's errors
                run.error = f"starting: {type(error).__name__}: {one_line(error)}"
        if teacher_pages:  # the askers ask once the first job trains
            await wait_for_text(teacher_pages[0][0], ("Teaching: step", DONE), OPEN_TIMEOUT_MS * 3,
                                teacher_pages[0][1])
        progress(f"teaching: {len(sets)} sessions ask, all at once, while the adapter is taught")
        opened = await asyncio.gather(*(open_session(browser, address) for _ in sets), return_exceptions=True)
        tasks = []
        for run, result in zip(askers, opened):
            if isinstance(result, BaseException):
                run.errors.append(f"opening the app: {type(result).__name__}: {one_line(result)}")
            else:
                contexts.append(result[0])
                tasks.append(run_session(result[1], run, QUESTION_TIMEOUT_MS * len(sets)))
        await asyncio.gather(*tasks, *(teach_to_the_end(page, clicked, run, teaching_timeout_ms(budget_s))
                                       for page, run, clicked in teacher_pages))
    finally:
        for context in contexts:
            await context.close()
        stop.set()
        await sampler
    progress(f"teaching: every session closed; memory in {SETTLE_S:.0f} s")
    after_close_mb, after_close_anonymous_mb = await settled_memory(server_pid)
    return {"cold_idle_mb": cold_mb, "cold_idle_anonymous_mb": cold_anonymous_mb, "warm_up": warm_up,
            "idle_mb": idle_mb, "peak_mb": max(samples, default=None), "after_close_mb": after_close_mb,
            "idle_anonymous_mb": idle_anonymous_mb, "after_close_anonymous_mb": after_close_anonymous_mb,
            "askers": askers, "teachers": runs}
