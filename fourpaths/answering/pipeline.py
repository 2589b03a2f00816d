"""One question through the paths: a single stream of events that the pages, the CLI, `eval` and `bench`
all drain.

page or CLI -> ask_stream -> each path turns the question into its answer or a Generation -> the engine
generates and streams -> TokenEvents, then one DoneEvent (with the Trace) or ErrorEvent per path.

Asked at once, every path runs on a thread of its own, so retrieval, the reader and the answer head (work
done inside torch's kernels, which release the GIL) overlap with generation; the generations themselves take
turns, because a small model's generate loop is bound by Python and two of them on threads only trade the GIL
(docs/design.md has the measurements).

Questions from different sessions of one process share the models, so they are admitted first come, first served:
at most `concurrent_questions` are answered at once, and a waiting question's stream says how many are ahead of
it (WaitEvent) instead of going quiet.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Iterator, Sequence, Union

from fourpaths.answering import engine
from fourpaths.answering.admission import ADMISSION
from fourpaths.answering.paths import PATH_IDS, PATHS, Answer, Generation
from fourpaths.answering.workspace import Workspace
from fourpaths.config import Settings, validate_question, validate_settings
from fourpaths.errors import FourpathsError, QuestionRefused, QuestionTooLong
from fourpaths.measure.scoring import abstains
from fourpaths.types import DoneEvent, ErrorEvent, Event, TokenEvent, Trace, WaitEvent

_DONE = object()


class QuestionAbandoned(Exception):
    """Raised on a path's thread when its question's consumer has stopped listening: the work is dropped."""




def ask_stream(question: str, settings: Settings, path_ids: Sequence[str] = PATH_IDS, concurrent: bool = True,
               workspace: Workspace | None = None) -> Iterator[Event]:
    """Every path's answer to `question` as one stream of events, once the question is admitted (WaitEvents
    until then).

    concurrent=True runs the paths at once, each timed from the moment the question was asked (waiting for
    admission included); False runs them one after another, each timed from its own start.

    A consumer that stops iterating (closes the generator, or drops it) gives up the question's place: the paths'
    threads stop at their next event, and the last of them hands the place to the next question."""
    question = validate_question(question)
    validate_settings(settings)
    unknown = [path_id for path_id in path_ids if path_id not in PATHS]
    if unknown:
        raise FourpathsError(f"unknown path(s): {', '.join(unknown)}; choose from {', '.join(PATH_IDS)}")
    engine.use_threads(settings.threads)
    workspace = workspace or Workspace(settings)
    checked = refuse_unreadable(question, settings, path_ids, workspace)
    events: queue.Queue = queue.Queue()
    asked_at = time.perf_counter()
    generating = threading.Lock()  # this question's generations take turns
    abandoned = threading.Event()
    alive = threading.Lock()  # guards `running` between this generator and the paths' threads
    running = 0

    def emit(event: Event) -> None:
        if abandoned.is_set():
            raise QuestionAbandoned
        events.put(event)

    def run(ids: Sequence[str]) -> None:
        nonlocal running
        try:
            for path_id in ids:
                if abandoned.is_set():
                    break
                _answer_one(path_id, question, settings, workspace, asked_at if concurrent else None, emit,
                            generating, checked)
        except QuestionAbandoned:
            pass
        finally:
            events.put(_DONE)
            with alive:
                running -= 1
                last = running == 0 and abandoned.is_set()
            if last:
                ADMISSION.leave(turn)

    turn = ADMISSION.join(settings.concurrent_questions)
    try:
        waited = False
        for ahead in ADMISSION.waits(turn):
            waited = True
            yield WaitEvent(ahead)
        if waited:
            yield WaitEvent(0)
        groups = [[path_id] for path_id in path_ids] if concurrent else [list(path_ids)]
        for group in groups:
            with alive:
                running += 1
            threading.Thread(target=run, args=(group,), daemon=True, name=f"fourpaths-{'-'.join(group)}").start()
        unfinished = len(groups)
        while unfinished:
            event = events.get()
            if event is _DONE:
                unfinished -= 1
            else:
                yield event
    finally:
        # Done, or closed early (GeneratorExit at a yield, which is also what a garbage-collected generator gets):
        # threads still running keep the place until the last one stops, so no more than the width ever answer.
        with alive:
            abandoned.set()
            threads_left = running
        if threads_left == 0:
            ADMISSION.leave(turn)


def refuse_unreadable(question: str, settings: Settings, path_ids: Sequence[str],
                      workspace: Workspace) -> dict[str, QuestionTooLong | None]:
    """Each path's check of the question, counted in its own model's tokens: None (it can read it) or its
    QuestionTooLong; a path that cannot say (its model does not load) is left out, to fail in its own column.
    QuestionRefused when no path can read the question."""
    checked: dict[str, QuestionTooLong | None] = {}
    for path_id in path_ids:
        try:
            PATHS[path_id].check_question(question, settings, workspace)
            checked[path_id] = None
        except QuestionTooLong as error:
            checked[path_id] = error
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - the path's own column will say what is wrong with it
            continue
    if path_ids and len(checked) == len(path_ids) and all(checked.values()):
        raise QuestionRefused({path_id: str(error) for path_id, error in checked.items()})
    return checked


def _answer_one(path_id: str, question: str, settings: Settings, workspace: Workspace, asked_at: float | None,
                emit, generating: threading.Lock, checked: dict[str, QuestionTooLong | None]) -> None:
    """One path from question to Trace, every outcome an event: a failure stays inside its own column. `checked`:
    refuse_unreadable's outcome per path (a path missing there is checked here, where its failure is shown)."""
    path = PATHS[path_id]
    started = asked_at if asked_at is not None else time.perf_counter()
    try:
        if path_id not in checked:
            path.check_question(question, settings, workspace)
        elif checked[path_id] is not None:
            raise checked[path_id]
        job = path.answer(question, settings, workspace)
        if isinstance(job, Answer):
            now = time.perf_counter()
            emit(TokenEvent(path_id, job.text))
            trace = Trace(path=path_id, title=path.title, text=job.text, mode=job.mode, model=job.model,
                          input=job.input, sources=job.sources, ttft_ms=_ms(started, now), total_ms=_ms(started, now),
                          score=job.score, answered=job.answered, facts=job.facts, confidence=job.confidence)
        elif job.endpoint is not None:  # the server batches requests: no turn to wait for
            trace = _generate(path_id, path.title, job, settings, started, emit)
        else:
            with generating:
                trace = _generate(path_id, path.title, job, settings, started, emit)
    except (QuestionAbandoned, KeyboardInterrupt, SystemExit):
        raise
    except FourpathsError as error:
        emit(ErrorEvent(path_id, str(error)))
        return
    except BaseException as error:  # noqa: BLE001 - tokenizers' PanicException is a BaseException: it too ends
        # the column with one line, instead of killing the thread and leaving the column waiting for good
        emit(ErrorEvent(path_id, f"{path.title} failed: {type(error).__name__}: {engine.one_line(error)}"))
        return
    emit(DoneEvent(path_id, trace))


def _generate(path_id: str, title: str, job: Generation, settings: Settings, started: float, emit) -> Trace:
    decoding = engine.Decoding(job.max_new_tokens or settings.max_new_tokens, settings.temperature, settings.seed)

    def on_text(piece: str) -> None:
        emit(TokenEvent(path_id, piece))

    if job.endpoint is not None:
        from fourpaths.answering import endpoint

        written = endpoint.generate(job.endpoint, job.served_model, job.messages, decoding.max_new_tokens,
                                    decoding.temperature, decoding.seed, on_text)
        model, text, ids, times, count = (f"{job.served_model} at {job.endpoint.url}", written.text, written.ids,
                                          written.times, written.count)
        probabilities = []  # the endpoint is not asked for them
    else:
        streamer = engine.generate(job.generator, job.prompt_ids, decoding, job.adapter, on_text=on_text,
                                   logits_processor=job.logits_processors or None)
        model, text, ids, times, count = (job.generator.location, streamer.text, streamer.ids, streamer.times,
                                          len(streamer.ids))
        probabilities = streamer.probabilities
    finished = times[-1] if times else time.perf_counter()
    first = times[0] if times else finished
    total_ms = _ms(started, finished)
    tokens_per_s = count / (total_ms / 1000) if total_ms > 0 else 0.0
    confidence = round(sum(probabilities) / len(probabilities), 4) if probabilities else None
    return Trace(path=path_id, title=title, text=text, mode=job.mode, model=model, input=job.input,
                 sources=job.sources, ttft_ms=_ms(started, first), total_ms=total_ms, new_tokens=count,
                 tokens_per_s=round(tokens_per_s, 2), answered=not abstains(text), facts=job.facts,
                 confidence=confidence, token_ids=list(ids))


def _ms(start: float, end: float) -> float:
    return round(1000 * (end - start), 1)


def ask(question: str, settings: Settings, path_ids: Sequence[str] = PATH_IDS, concurrent: bool = True,
        workspace: Workspace | None = None) -> dict[str, Union[Trace, str]]:
    """Drain the stream: each path's Trace, or its error message, in the order asked."""
    results: dict[str, Union[Trace, str]] = {}
    for event in ask_stream(question, settings, path_ids, concurrent, workspace):
        if isinstance(event, DoneEvent):
            results[event.path] = event.trace
        elif isinstance(event, ErrorEvent):
            results[event.path] = event.message
    # Every path asked has an entry: one whose thread ended without a word still says so in one line.
    return {path_id: results.get(path_id, f"{PATHS[path_id].title} stopped without an answer")
            for path_id in path_ids}
