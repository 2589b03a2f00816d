"""`fourpaths load`: many people asking at once, measured on the real app.

Starts `streamlit run app.py` (fourpaths.measure.browser), then drives headless Chromium through Playwright's async API:
one browser, one context per session, so each is a Streamlit session of its own, as separate visitors are.

    warm-up: a session loads the app (the models load) and asks one question, untimed
    alone: for each of the N sets of M questions, a new session opens the Compare page, then asks its M questions
        one after another (each set timed: single_session_ms is their mean; and the answers each question gets
        when nothing else runs)
    at once: N new sessions open the Compare page; once all are ready each asks its M questions, one after
        another, all sessions at the same time
    each session: time from its first Ask click to its last answer drawn; errors (exceptions, error boxes,
        timeouts); cross-session answers; then the server's peak memory from /proc

A column's answer belongs to another session's question when its Anatomy input (every path's input holds the
question the path was given) lacks the question this session asked, or when its answer is not the one the lone
session got for this question but is the one it got for another question asked in the run.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fourpaths.config import Settings, resolve_location, validate_question
from fourpaths.errors import FourpathsError, one_line
from fourpaths.measure.browser import (
    APP_TITLE,
    CHROMIUM_ARGS,
    SERVER_START_TIMEOUT_S,
    require_chromium,
    require_playwright,
    running_server,
)
from fourpaths.measure.stats import percentile

QUESTION_SPLIT = "eval_seen"
WARM_UP_QUESTION = "What does Quillmoor Robotics make?"  # not in the split's sets, so the first set's is new text
WINDOW = {"width": 1280, "height": 900}
OPEN_TIMEOUT_MS = 300_000  # the first session's page waits for the models to load
QUESTION_TIMEOUT_MS = 180_000  # one question alone; at once, this times the sessions (first come, first served)
# Resolves once `condition` holds, checked at every change of the page (a MutationObserver), not by polling: a
# waiting page costs nothing to watch, and the moment is exact, not up to expect's backoff (up to a second) late.
WHEN = """([condition, timeoutMs]) => new Promise((resolve, reject) => {
    const holds = new Function('return ' + condition);
    if (holds()) return resolve(true);
    const observer = new MutationObserver(() => {
        if (holds()) { observer.disconnect(); clearTimeout(timer); resolve(true); }
    });
    const timer = setTimeout(() => {
        observer.disconnect();
        reject(new Error(`not after ${timeoutMs} ms: ${condition}`));
    }, timeoutMs);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
})"""
# In-page conditions: the script is running (Streamlit's running icon); the answers are there (the caption
# ui/answers.py draws after every column); they are drawn (and every column's Anatomy input too: the code
# block's renderer loads after the page, so it can come last); a failure is shown (an exception, or an error box:
# a column's or the question's). An answer column is one with the path's bold title (drawn_for, below).
RUNNING = "document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]') !== null"
ANSWERED = ("Array.from(document.querySelectorAll('[data-testid=\"stCaptionContainer\"]'))"
            ".some(caption => caption.textContent.includes('From Ask to the last answer'))")
FAILED = ("document.querySelector('[data-testid=\"stException\"], [data-testid=\"stAlertContentError\"]') "
          "!== null")
# Each column of the answer area (ui/answers.py): its bold title, its answer (the column's h4 or h5; a column
# whose answer failed shows an error box there instead) and its Anatomy's first code block (the input as the
# model saw it, which holds the question). Collapsed expanders keep their content in the page (inert).
READ_COLUMNS = """() => Array.from(document.querySelectorAll('[data-testid="stColumn"]')).flatMap(column => {
    const heading = column.querySelector('strong');
    if (!heading) return [];
    const text = selector => {
        const found = column.querySelector(selector);
        return found ? found.textContent : null;
    };
    return [{title: heading.textContent.trim(), answer: text('h4, h5') ?? text('[data-testid="stText"]'),
             input: text('[data-testid="stCode"] code') ?? text('[data-testid="stCode"]'),
             error: text('[data-testid="stAlertContentError"]')}];
})"""

# Every "waiting: N questions ahead" the page drew, however briefly: the label is gone once the answers come.
WATCH_WAITING = """window.__fourpathsWaiting = [];
new MutationObserver(records => {
    for (const record of records) {
        const nodes = record.type === 'characterData' ? [record.target] : Array.from(record.addedNodes);
        for (const node of nodes) {
            const text = node.textContent || '';
            const found = text.length < 2000 && text.match(/waiting: \\d+ questions? ahead/);
            if (found && !window.__fourpathsWaiting.includes(found[0])) window.__fourpathsWaiting.push(found[0]);
        }
    }
}).observe(document, {subtree: true, childList: true, characterData: true});"""



def drawn_for(question: str) -> str:
    """The answers drawn for this question: the page keeps the session's last answers on screen until new ones
    come, so every answer column's Anatomy input must hold this question (a session never asks the same one twice
    in a row)."""
    return (f"({ANSWERED}) && Array.from(document.querySelectorAll('[data-testid=\"stColumn\"]'))"
            ".filter(column => column.querySelector('strong'))"
            ".every(column => column.querySelector('[data-testid=\"stAlertContentError\"]') || "
            "(column.querySelector('[data-testid=\"stCode\"]')?.textContent ?? '')"
            f".includes({json.dumps(question)}))")

# The measuring browsers share the app's cores, where visitors' browsers would not: they draw no animation (a
# waiting page's spinner, and Streamlit's running icon, which changes five times a second, take CPU from the app
# for as long as a question waits). The icon stays in the page (hidden), where RUNNING looks for it.
QUIET_CSS = """*, *::before, *::after { animation: none !important; transition: none !important; }
[data-testid="stStatusWidget"] { display: none !important; }"""


@dataclass
class SessionRun:
    """One browser session's questions and what it saw."""

    questions: list[str]
    ms: float | None = None  # first Ask click to last answer; None when it did not get there
    errors: list[str] = field(default_factory=list)
    shown: dict[str, dict[str, dict]] = field(default_factory=dict)  # question -> path title -> READ_COLUMNS row
    waiting_shown: list[str] = field(default_factory=list)  # the waiting labels its page drew


def question_sets(settings: Settings, sessions: int, per_session: int) -> list[list[str]]:
    """Session s asks questions s*M .. s*M+M-1 of the split, wrapping around: every session a different set while
    the split has enough questions, and never the same question twice in a row."""
    from fourpaths.retrieval.corpus import load_questions

    pool = list(dict.fromkeys(validate_question(item.question)
                              for item in load_questions(resolve_location(settings.corpus_root), QUESTION_SPLIT)))
    if per_session > len(pool):
        raise FourpathsError(f"--questions {per_session}: {QUESTION_SPLIT} has only {len(pool)} different questions")
    return [[pool[(s * per_session + k) % len(pool)] for k in range(per_session)] for s in range(sessions)]


def peak_memory_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of the process and its descendants, summed, in MB."""
    total_kb = 0
    for process in [pid] + _descendants(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue  # gone since it was listed
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return round(total_kb / 1024, 1)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far, summed."""
    ticks = 0
    for process in pids:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # the command name (field 2) may hold spaces and brackets: the parent comes after its last ")"
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


# --- one session in the browser -------------------------------------------------------------------------------

async def open_session(browser, address: str):
    from playwright.async_api import expect

    context = await browser.new_context(viewport=WINDOW, reduced_motion="reduce")
    await context.add_init_script(WATCH_WAITING)
    page = await context.new_page()
    await page.goto(address, wait_until="domcontentloaded", timeout=60_000)
    await page.add_style_tag(content=QUIET_CSS)  # before the app's first run, which loads the models
    await expect(page.get_by_role("heading", name=APP_TITLE)).to_be_visible(timeout=OPEN_TIMEOUT_MS)
    await settled(page, OPEN_TIMEOUT_MS)
    return context, page


async def settled(page, timeout_ms: int) -> None:
    from playwright.async_api import expect

    await expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0, timeout=timeout_ms)


async def ask_in_page(page, question: str, timeout_ms: int) -> tuple[float, float]:
    """Type the question, let the page take it in, click Ask, wait for the last answer; returns when the click
    was and when the answers were all there (time.perf_counter)."""
    box = page.get_by_role("textbox", name="Question", exact=True)
    await box.fill(question)
    await box.blur()  # the text area's rerun (no Ask), over before the click
    await page.evaluate(WHEN, [f"!({RUNNING})", timeout_ms])
    clicked = time.perf_counter()
    await page.get_by_role("button", name="Ask", exact=True).click()
    await page.evaluate(WHEN, [f"!({RUNNING}) && (({drawn_for(question)}) || ({FAILED}))", timeout_ms])
    return clicked, time.perf_counter()


async def errors_shown(page) -> list[str]:
    texts = []
    for test_id in ("stException", "stAlertContentError"):
        texts += [" ".join(text.split())[:200] for text in await page.get_by_test_id(test_id).all_inner_texts()]
    return texts


async def run_session(page, run: SessionRun, timeout_ms: int) -> None:
    """Ask the session's questions one after another, recording what each shows; a failure ends the session."""
    first_click = None
    try:
        for question in run.questions:
            clicked, answered = await ask_in_page(page, question, timeout_ms)
            first_click = first_click if first_click is not None else clicked
            run.shown[question] = {row["title"]: row for row in await page.evaluate(READ_COLUMNS)}
            run.errors += [f"{question[:60]}: {text}" for text in await errors_shown(page)]
        run.ms = round(1000 * (answered - first_click), 1)
        run.waiting_shown = await page.evaluate("window.__fourpathsWaiting")
    except Exception as error:  # noqa: BLE001 - a timeout or a closed page is one of the run's errors
        run.errors.append(f"{type(error).__name__}: {one_line(error)}")


# --- the run ----------------------------------------------------------------------------------------------------

def _cpu_now(server_pid: int) -> tuple[float, float]:
    """(the server's CPU seconds, the browser's: this process's other descendants, Chromium and Playwright's
    driver)."""
    server = [server_pid] + _descendants(server_pid)
    browser = [pid for pid in _descendants(os.getpid()) if pid not in server]
    return cpu_seconds(server), cpu_seconds(browser)


async def _drive(address: str, server_pid: int, chromium: str, sets: list[list[str]],
                 progress: Callable[[str], None], teach: int = 0, teach_seconds: float = 30.0):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            progress("warming up: loading the app (the first visit loads the models) and one question")
            try:
                context, page = await open_session(browser, address)
            except Exception as error:  # noqa: BLE001 - nothing to measure without the app: say why in one line
                raise FourpathsError(f"the app did not open in Chromium: {type(error).__name__}: "
                                     f"{one_line(error)}") from None
            # untimed: a process's first answers are slower (torch's first calls), and the sessions at once come
            # after it, warm
            warm_up = SessionRun([WARM_UP_QUESTION])
            await run_session(page, warm_up, QUESTION_TIMEOUT_MS)
            await context.close()
            # Each set by a new session, opened before it is timed, as the sessions at once are: its page's first
            # question also loads the page's charts and code renderer, for both alike.
            alone, cpu_alone = [], [0.0, 0.0]
            for number, questions in enumerate(sets, start=1):
                run = SessionRun(questions)
                try:
                    context, page = await open_session(browser, address)
                except Exception as error:  # noqa: BLE001 - one of the run's errors
                    run.errors.append(f"opening the app: {type(error).__name__}: {one_line(error)}")
                else:
                    cpu_before = _cpu_now(server_pid)
                    await run_session(page, run, QUESTION_TIMEOUT_MS)
                    cpu_alone = [total + after - before
                                 for total, before, after in zip(cpu_alone, cpu_before, _cpu_now(server_pid))]
                    await context.close()
                alone.append(run)
                progress(f"one session alone, set {number}/{len(sets)}: "
                         f"{'failed' if run.ms is None else f'{run.ms:.0f} ms'}")
            alone[0].errors[:0] = warm_up.errors  # counted with the rest
            cpu_alone = [round(seconds, 1) for seconds in cpu_alone]

            progress(f"{len(sets)} sessions: opening the app")
            opened = await asyncio.gather(*(open_session(browser, address) for _ in sets), return_exceptions=True)
            runs = [SessionRun(questions) for questions in sets]
            timeout_ms = QUESTION_TIMEOUT_MS * len(sets)
            tasks = []
            for run, result in zip(runs, opened):
                if isinstance(result, BaseException):
                    run.errors.append(f"opening the app: {type(result).__name__}: {one_line(result)}")
                else:
                    tasks.append(run_session(result[1], run, timeout_ms))
            progress(f"{len(sets)} sessions: asking, all at once")
            cpu_before = _cpu_now(server_pid)
            await asyncio.gather(*tasks)
            cpu = [round(after - before, 1) for before, after in zip(cpu_before, _cpu_now(server_pid))]
            for result in opened:
                if not isinstance(result, BaseException):
                    await result[0].close()
            teaching = None
            if teach:
                from fourpaths.measure.load_teaching import teaching_phase

                teaching = await teaching_phase(browser, address, server_pid, sets, teach, teach_seconds, progress)
            return alone, runs, cpu_alone + cpu, teaching
        finally:
            await browser.close()


def cross_session_answers(runs: list[SessionRun], alone: list[SessionRun]) -> tuple[int, int]:
    """(answers that belong to another session's question, answers unlike the lone session's for the same
    question): see the module's docstring."""
    reference = {question: columns for run in alone for question, columns in run.shown.items()}
    asked = {question for run in runs for question in run.questions}
    crossed = unlike = 0
    for run in runs:
        for question, columns in run.shown.items():
            others = asked - {question}
            for title, column in columns.items():
                if column["error"] is not None or column["input"] is None:
                    continue  # no answer to judge: counted among the errors
                if question not in column["input"]:  # every path's input holds its question: this is another's
                    crossed += 1
                    continue
                expected = reference.get(question, {}).get(title, {}).get("answer")
                if expected is None or column["answer"] == expected:
                    continue
                unlike += 1
                if any(reference.get(other, {}).get(title, {}).get("answer") == column["answer"] for other in others):
                    crossed += 1
    return crossed, unlike


@dataclass
class LoadRun:
    alone: list[SessionRun]  # the lone session, one entry per question set
    sessions: list[SessionRun]  # the sessions at once
    peak_server_mb: float
    concurrent_questions: int  # the app's admission width
    # CPU time, the app's and Chromium's (with Playwright's driver): while the lone session asked, then while the
    # sessions asked at once
    single_session_server_cpu_s: float
    single_session_browser_cpu_s: float
    server_cpu_s: float
    browser_cpu_s: float
    teaching: dict | None = None  # fourpaths/measure/load_teaching.py's figures, with --teach
    teach_seconds: float = 0.0


def measure_load(settings: Settings, sessions: int, questions: int, env: dict[str, str] | None = None,
                 progress: Callable[[str], None] = lambda line: None, teach: int = 0,
                 teach_seconds: float = 30.0) -> LoadRun:
    """Serve the app (settings from env, default this process's environment: the same as `settings`), run the
    lone session, then `sessions` at once, each asking `questions` questions."""
    if sessions < 1 or questions < 1:
        raise FourpathsError("--sessions and --questions must be at least 1")
    require_playwright()
    chromium = require_chromium()
    sets = question_sets(settings, sessions, questions)
    with tempfile.TemporaryDirectory(prefix="fourpaths-load-") as folder:
        log = Path(folder) / "streamlit.log"
        with running_server(log, env, timeout_s=SERVER_START_TIMEOUT_S * 2) as server:
            progress(f"app at {server.address} (pid {server.pid})")
            alone, runs, cpu, teaching = asyncio.run(_drive(server.address, server.pid, chromium, sets, progress,
                                                            teach, teach_seconds))
            peak_mb = peak_memory_mb(server.pid)
    return LoadRun(alone, runs, peak_mb, settings.concurrent_questions, *cpu, teaching, teach_seconds)


def run_load(settings: Settings, sessions: int, questions: int, env: dict[str, str] | None = None,
             progress: Callable[[str], None] = lambda line: None, teach: int = 0, teach_seconds: float = 30.0) -> dict:
    """measure_load's figures as the issue's JSON document (plus where and when, and the error messages)."""
    return load_document(measure_load(settings, sessions, questions, env, progress, teach, teach_seconds))


def load_document(measured: LoadRun) -> dict:
    runs, alone = measured.sessions, measured.alone
    crossed, unlike = cross_session_answers(runs, alone)
    times = [run.ms for run in runs if run.ms is not None]
    alone_times = [run.ms for run in alone if run.ms is not None]
    messages = [message for run in alone + runs for message in run.errors]
    teaching = _teaching_document(measured, percentile(times, 95))
    if teaching:
        messages += teaching.pop("error_messages")
    return {
        "sessions": len(runs),
        "questions": len(runs[0].questions),
        "errors": len(messages),
        "cross_session_answers": crossed,
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "max_ms": max(times, default=None),  # None (as the percentiles) when no session got to its last answer
        "single_session_ms": round(sum(alone_times) / len(alone_times), 1) if alone_times else None,
        "peak_server_mb": measured.peak_server_mb,
        "answers_unlike_single_session": unlike,
        "sessions_shown_waiting": sum(bool(run.waiting_shown) for run in runs),
        "sessions_finished": len(times),
        "session_ms": [run.ms for run in runs],
        "single_session_sets_ms": [run.ms for run in alone],
        "concurrent_questions": measured.concurrent_questions,
        "single_session_server_cpu_s": measured.single_session_server_cpu_s,
        "single_session_browser_cpu_s": measured.single_session_browser_cpu_s,
        "server_cpu_s": measured.server_cpu_s,
        "browser_cpu_s": measured.browser_cpu_s,
        "error_messages": messages[:20],
        **({"teaching": teaching} if teaching else {}),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, python "
                   f"{platform.python_version()}",
        **_commit(),
    }


def _teaching_document(measured: LoadRun, p95_without: float | None) -> dict | None:
    """The askers' latency while sessions teach, beside theirs without; the teachers' outcomes; memory idle before
    any teaching (cold) and after a first job (idle), at its peak while teaching, and after every session closed."""
    if not measured.teaching:
        return None
    t = measured.teaching
    times = [run.ms for run in t["askers"] if run.ms is not None]
    p95 = percentile(times, 95)
    ratio = lambda a, b: round(a / b, 2) if a is not None and b else None  # noqa: E731
    return {
        "sessions": len(t["teachers"]), "budget_s": measured.teach_seconds, "askers": len(t["askers"]),
        "askers_p50_ms": percentile(times, 50), "askers_p95_ms": p95, "askers_p95_without_teaching_ms": p95_without,
        "askers_p95_over_without": ratio(p95, p95_without), "askers_finished": len(times),
        "cold_idle_server_mb": t["cold_idle_mb"], "cold_idle_server_anonymous_mb": t["cold_idle_anonymous_mb"],
        "warm_up_teacher": {"document": t["warm_up"].document, "error": t["warm_up"].error, "cost": t["warm_up"].cost},
        "idle_server_mb": t["idle_mb"], "peak_server_mb_while_teaching": t["peak_mb"],
        "server_mb_after_close": t["after_close_mb"], "after_close_over_idle": ratio(t["after_close_mb"], t["idle_mb"]),
        "idle_server_anonymous_mb": t["idle_anonymous_mb"], "server_anonymous_mb_after_close":
            t["after_close_anonymous_mb"],
        "anonymous_after_close_over_idle": ratio(t["after_close_anonymous_mb"], t["idle_anonymous_mb"]),
        "after_close_over_cold_idle": ratio(t["after_close_mb"], t["cold_idle_mb"]),
        "teachers": [{"document": run.document, "ms": run.ms, "error": run.error, "cost": run.cost,
                      "states": run.states} for run in t["teachers"]],
        "error_messages": [message for run in t["askers"] for message in run.errors]
                          + [f"teacher {run.document}: {run.error}" for run in t["teachers"] if run.error]
                          + ([f"warm-up teacher {t['warm_up'].document}: {t['warm_up'].error}"]
                             if t["warm_up"].error else []),
    }


def _commit() -> dict:
    from fourpaths.measure.evaluation import (
        git_commit,  # after the measuring: it imports the models' libraries
    )


    commit, dirty = git_commit()
    return {"commit": commit, "uncommitted_changes": dirty}


def report_lines(result: dict) -> list[str]:
    """What `fourpaths load` prints: latency, errors, memory, and with --teach the teaching sessions' effect."""
    def ms(value) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    out = [f"{result['sessions']} sessions x {result['questions']} questions, "
           f"{result['concurrent_questions']} answered at once"]
    for label, key in (("one session alone", "single_session_ms"), ("p50", "p50_ms"), ("p95", "p95_ms"),
                       ("max", "max_ms")):
        out.append(f"{label:<28}{ms(result[key]):>12}")
    out.append(f"{'errors':<28}{result['errors']:>12}")
    out.append(f"{'cross-session answers':<28}{result['cross_session_answers']:>12}")
    out.append(f"{'peak server memory':<28}{result['peak_server_mb']:>9.0f} MB")
    teaching = result.get("teaching")
    if teaching:
        out += [f"with {teaching['sessions']} sessions teaching ({teaching['budget_s']:.0f} s budget each):",
                f"{'  askers p95':<28}{ms(teaching['askers_p95_ms']):>12}  "
                f"({teaching['askers_p95_over_without']}x their p95 without teaching)",
                f"{'  server memory cold idle':<28}{teaching['cold_idle_server_mb']:>9.0f} MB  (before any teaching)",
                f"{'  idle after a first job':<28}{teaching['idle_server_mb']:>9.0f} MB  "
                f"({teaching['warm_up_teacher']['error'] or teaching['warm_up_teacher']['cost']})",
                f"{'  peak while teaching':<28}{teaching['peak_server_mb_while_teaching']:>9.0f} MB",
                f"{'  30 s after all closed':<28}{teaching['server_mb_after_close']:>9.0f} MB  "
                f"({teaching['after_close_over_idle']}x idle; its own data "
                f"{teaching['anonymous_after_close_over_idle']}x; {teaching['after_close_over_cold_idle']}x cold idle)"]
        out += [f"  teacher {t['document']}: {t['error'] or t['cost']}" for t in teaching["teachers"]]
    out += [f"error: {message}" for message in result["error_messages"]]
    return out
