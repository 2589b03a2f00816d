"""One question through the paths: a single stream of events that the app, the CLI and the benchmark drain.

Jobs that share weights (prompt and LoRA on the one base) run as one batched decode with a per-row adapter;
the RAG quote on the same weights decodes alone (it takes its forced tokens in one pass), and jobs on other
weights (the tiny model) form groups of their own. On a machine with several cores the groups decode at once
in lanes, one per core (fourpaths.lanes); on one core they take turns, step by step, on one worker thread.
Each event names its path, so a caller routes it to a column without knowing how the work was scheduled.
"""

from __future__ import annotations

import queue
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import Callable, Iterator, Sequence, Union

from fourpaths.config import Settings, validate_question, validate_settings
from fourpaths.errors import FourpathsError
from fourpaths.events import DoneEvent, ErrorEvent, Event, TokenEvent, Trace
from fourpaths.generation import Clock, IncrementalDecoder, Row, Sampling, stream_tokens
from fourpaths.lanes import apply_torch_threads_here, decode_in_lanes, run_torch_on_one_thread, usable_lanes
from fourpaths.models import cache_generation
from fourpaths.paths import PATH_IDS, PATHS, Job
from fourpaths.quoting import QuoteDecoder
from fourpaths.workspace import Workspace


def sampling_from(settings: Settings) -> Sampling:
    return Sampling(settings.max_new_tokens, settings.temperature, settings.seed)


def _prepare(path_id: str, question: str, settings: Settings, workspace: Workspace,
             started: float | None = None) -> tuple[Job, Clock]:
    """The path's job, with a clock started at `started` (the moment the question was asked) or now."""
    clock = Clock(started=started if started is not None else time.perf_counter())
    try:
        return PATHS[path_id].prepare(question, settings, workspace), clock
    except FourpathsError:
        raise
    except Exception as error:  # noqa: BLE001 - an unexpected failure stays inside its own column
        raise FourpathsError(f"{PATHS[path_id].title} failed: {type(error).__name__}: {error}") from error


def _group_events(group: Sequence[tuple[Job, Clock]], sampling: Sampling) -> Iterator[Event]:
    """Generate every job in `group` (all on one model) in one batched loop, yielding events as they come."""
    budgets = [job.max_new_tokens for job, _ in group if job.max_new_tokens]
    if budgets:  # a batch shares one budget; only a job decoding alone sets its own (see _group_by_model)
        sampling = replace(sampling, max_new_tokens=max(budgets))
    tokenizer = group[0][0].model.tokenizer
    decoders = [QuoteDecoder(job.constraint) if job.constraint is not None else IncrementalDecoder(tokenizer)
                for job, _ in group]
    rows = [Row(job.prompt_ids, job.adapter, job.constraint) for job, _ in group]
    stop_ids = {tokenizer.eos_token_id, *(tokenizer.convert_tokens_to_ids(t) for t in ("<|endoftext|>",))}
    stop_ids.discard(tokenizer.unk_token_id)  # a tokenizer without <|endoftext|> maps it to its unknown token
    finished: set[int] = set()
    try:
        for step in stream_tokens(group[0][0].model.model, rows, sampling, stop_ids):
            job, clock = group[step.row]
            if step.token_id is None:
                clock.finish(step.at)
                if job.constraint is not None:
                    job.facts["quoted_from_passages"] = job.constraint.quoted_passages()
                finished.add(step.row)
                yield DoneEvent(job.path_id, _trace(job, clock, decoders[step.row].text))
                continue
            clock.token(step.at)
            piece = decoders[step.row].add(step.token_id)
            if piece:
                yield TokenEvent(job.path_id, piece)
    except Exception as error:  # noqa: BLE001 - a failing model must not take the other paths down
        for row, (job, _) in enumerate(group):
            if row not in finished:
                yield ErrorEvent(job.path_id, f"generation failed: {error}")


def _trace(job: Job, clock: Clock, text: str) -> Trace:
    path = PATHS[job.path_id]
    return Trace(job.path_id, path.title, text, job.prompt, job.sources, round(clock.ttft_ms, 1),
                 round(clock.total_ms, 1), clock.new_tokens, round(clock.tokens_per_s, 2), job.facts)


def _group_by_model(prepared: Sequence[tuple[Job, Clock]]) -> list[list[tuple[Job, Clock]]]:
    """Jobs on one model share a batch, except a constrained one, which decodes alone: alone, it can take the
    tokens its constraint forces in one forward pass (generation._forced_run), where in a batch every row
    must move one token a step."""
    groups: dict[tuple[int, int], list[tuple[Job, Clock]]] = {}
    for position, (job, clock) in enumerate(prepared):
        key = (id(job.model), position if job.constraint is not None else -1)
        groups.setdefault(key, []).append((job, clock))
    return list(groups.values())


@dataclass
class _Unit:
    """What one lane works through at a time: prepared jobs batched on one model, or a path that is prepared
    in the lane itself (see AnswerPath.prepare_in_lane). `recipe` is the same work for a lane worker, which
    prepares its own jobs from the question (fourpaths.lanes); a unit without one stays in this process."""

    path_ids: list[str]
    models: list  # the LoadedModels it generates on, whose locks it needs
    events: Callable[[], Iterator[Event]]
    recipe: Callable[[], Iterator[Event]] | None = None


def _batched_units(prepared: Sequence[tuple[Job, Clock]], sampling: Sampling,
                   recipe: Callable[[list[str]], Callable[[], Iterator[Event]]] | None = None) -> list[_Unit]:
    units = []
    for group in _group_by_model(prepared):
        path_ids = [job.path_id for job, _ in group]
        units.append(_Unit(path_ids, [group[0][0].model], partial(_group_events, group, sampling),
                           recipe(path_ids) if recipe else None))
    return units


def _prepare_then_generate(path_ids: Sequence[str], question: str, settings: Settings, asked_at: float,
                           sampling: Sampling, workspace: Workspace | None = None) -> Iterator[Event]:
    """Prepare the paths and decode them as one batch per model: in a lane worker, from nothing but the
    question (a picklable recipe), or in this process's lane, for a path prepared there."""
    workspace = workspace or Workspace(settings)
    prepared = []
    for path_id in path_ids:
        try:
            prepared.append(_prepare(path_id, question, settings, workspace, asked_at))
        except FourpathsError as error:
            yield ErrorEvent(path_id, str(error))
    for group in _group_by_model(prepared):
        yield from _group_events(group, sampling)


def _concurrent_units(path_ids: Sequence[str], question: str, settings: Settings, workspace: Workspace,
                      sampling: Sampling, in_lanes: bool) -> tuple[list[_Unit], list[ErrorEvent]]:
    """The units for asking every path at once, and the errors of paths that could not even start.

    With several lanes, a path whose preparation is heavy (retrieval) is prepared in this process's lane,
    beside the others' decoding in the workers, instead of before any of them starts; its models and index
    are loaded here first. Such units come first: the longest work should start first."""
    asked_at = time.perf_counter()  # every column's clock starts when the question is asked
    prepared, in_lane, errors = [], [], []
    for path_id in path_ids:
        path = PATHS[path_id]
        try:
            if in_lanes and path.prepare_in_lane:
                in_lane.append(_Unit([path_id], path.load(settings, workspace), partial(
                    _prepare_then_generate, [path_id], question, settings, asked_at, sampling, workspace)))
            else:
                prepared.append(_prepare(path_id, question, settings, workspace, asked_at))
        except FourpathsError as error:
            errors.append(ErrorEvent(path_id, str(error)))

    def recipe(unit_path_ids: list[str]):  # a unit's work as a lane worker does it: picklable, self-contained
        return partial(_prepare_then_generate, unit_path_ids, question, settings, asked_at, sampling)

    return in_lane + _batched_units(prepared, sampling, recipe if in_lanes else None), errors


def _run_units(units: Sequence[_Unit], lanes: int = 1) -> Iterator[Event]:
    """Every unit's events, holding each model's lock throughout: in `lanes` decode lanes (fourpaths.lanes)
    or, with one lane, taking turns on this thread.

    The locks are taken before any worker is forked, so no worker starts from a model that another asker is
    halfway through a step on (an adapter gated for its batch, say)."""
    models = sorted({id(model): model for unit in units for model in unit.models}.values(), key=lambda m: m.location)
    with ExitStack() as held:
        for model in models:  # one fixed order, so two askers can never hold each other's model
            held.enter_context(model.lock)
        if lanes > 1:
            yield from decode_in_lanes(units, lambda unit: unit.events(), lambda unit: unit.recipe, lanes,
                                       lambda unit: unit.path_ids, key=cache_generation())
        else:
            yield from _interleaved([unit.events() for unit in units])


def _interleaved(streams: list[Iterator[Event]]) -> Iterator[Event]:
    """Advance every group's decode loop in turn, on one thread.

    Why not a thread per model: small models are bound by Python overhead, so threads mostly queue on the
    GIL. Measured on the 2-core machine, three paired runs of the bench questions: a thread per model with one
    torch thread each took 1413-1642 ms against 1641-1704 ms taking turns, within the run-to-run noise of the
    sequential baseline (1782-2193 ms). Taking turns is deterministic and needs no thread settings.
    """
    while streams:
        for stream in list(streams):
            event = next(stream, None)
            if event is None:
                streams.remove(stream)
            else:
                yield event


def _in_background(make_events) -> Iterator[Event]:
    """Run the decode loop on a worker thread and hand its events over a queue.

    A consumer that is slow per event (a page redrawing a column on every token) would otherwise pause
    the decode loop between tokens: seen in the browser, where answers took several times the bench's time.
    """
    events: queue.Queue = queue.Queue()
    finished = object()
    failure: list[BaseException] = []

    def work() -> None:
        apply_torch_threads_here()  # a fresh thread: see lanes.run_torch_on_one_thread
        try:
            for event in make_events():
                events.put(event)
        except BaseException as error:  # noqa: BLE001 - re-raised on the consumer's side below
            failure.append(error)
        finally:
            events.put(finished)

    threading.Thread(target=work, daemon=True, name="fourpaths-decode").start()
    while (event := events.get()) is not finished:
        yield event
    if failure:
        raise failure[0]


def ask_stream(question: str, settings: Settings, path_ids: Sequence[str] = PATH_IDS, concurrent: bool = True,
               workspace: Workspace | None = None) -> Iterator[Event]:
    """Every path's answer to `question` as one stream of events.

    concurrent=True batches the paths that share weights and runs the others beside them; False runs the
    paths one after another, each alone, each timed from its own start.
    """
    question = validate_question(question)
    validate_settings(settings)
    unknown = [path_id for path_id in path_ids if path_id not in PATHS]
    if unknown:
        raise FourpathsError(f"unknown path(s): {', '.join(unknown)}; choose from {', '.join(PATH_IDS)}")
    workspace = workspace or Workspace(settings)
    sampling = sampling_from(settings)
    in_lanes = concurrent and usable_lanes(settings.decode_lanes, len(path_ids)) > 1
    if in_lanes:
        run_torch_on_one_thread()  # before this ask's first torch work: see there why
    elif settings.threads > 0:  # a shared host may want fewer torch threads than cores
        import torch

        torch.set_num_threads(settings.threads)
    if concurrent:
        units, errors = _concurrent_units(path_ids, question, settings, workspace, sampling, in_lanes)
        yield from errors
        lanes = usable_lanes(settings.decode_lanes, len(units))
        yield from _in_background(lambda: _run_units(units, lanes))
        return
    for path_id in path_ids:
        try:
            job_and_clock = _prepare(path_id, question, settings, workspace)
        except FourpathsError as error:
            yield ErrorEvent(path_id, str(error))
            continue
        yield from _in_background(lambda: _run_units(_batched_units([job_and_clock], sampling)))


def ask(question: str, settings: Settings, path_ids: Sequence[str] = PATH_IDS, concurrent: bool = True,
        workspace: Workspace | None = None) -> dict[str, Union[Trace, str]]:
    """Drain the stream: each path's Trace, or its error message."""
    results: dict[str, Union[Trace, str]] = {}
    for event in ask_stream(question, settings, path_ids, concurrent, workspace):
        if isinstance(event, DoneEvent):
            results[event.path] = event.trace
        elif isinstance(event, ErrorEvent):
            results[event.path] = event.message
    return {path_id: results[path_id] for path_id in path_ids if path_id in results}
