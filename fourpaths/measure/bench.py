"""`fourpaths bench`: speed and memory of the four paths, each figure beside a plain baseline from the same run.

- per path: the engine's streamed generation against transformers' `generate` without a streamer on the same
  input (a path that extracts or picks its answer reports its time, with a null baseline);
- the four paths at once against the same four one after another, paired question by question;
- retrieval: the RAG path's search against FAISS alone and an exact NumPy dot product;
- memory: peak resident set with every model loaded, beside the peak after imports alone;
- cold start: a fresh process from launch to its first complete answer, beside one that only imports.
"""

from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import torch

from fourpaths.answering import engine
from fourpaths.answering.paths import PATH_IDS, PATHS, Generation
from fourpaths.answering.pipeline import DoneEvent, ask, ask_stream
from fourpaths.answering.workspace import Workspace
from fourpaths.config import Settings

BENCH_QUESTIONS = (
    "How many days of annual leave do Quillmoor employees get?",
    "What is the list price of the Ferret AMR?",
    "How much does a Loomwork subscription cost per robot per month?",
)
ROUNDS = 3  # passes over the questions for each paired comparison
COLD_START_SCRIPT = (
    "import json, sys, time; from fourpaths.measure.bench import first_answer_time; "
    "print(json.dumps({'at': first_answer_time(sys.argv[1])}))"
)
IMPORT_ONLY_SCRIPT = (
    "import json, time; import torch, transformers, sentence_transformers, faiss, peft; "
    "print(json.dumps({'at': time.time()}))"
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def _import_libraries() -> None:
    """What the app imports before any model loads, so the baseline is the libraries' memory, not this module's."""
    import faiss  # noqa: F401
    import peft  # noqa: F401
    import sentence_transformers  # noqa: F401
    import transformers.modeling_utils  # noqa: F401


def first_answer_time(question: str) -> float:
    """Run in a fresh process by the cold-start measurement: wall-clock time of the last path's answer."""
    from fourpaths.config import load_settings

    last = None
    for event in ask_stream(question, load_settings()):
        if isinstance(event, DoneEvent):
            last = time.time()
    if last is None:
        raise RuntimeError("no path answered")
    return last


def _fresh_process_ms(script: str, *args: str) -> float:
    launched = time.time()
    output = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return 1000 * (json.loads(output.stdout.strip().splitlines()[-1])["at"] - launched)


def _wall_s(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _per_path(settings: Settings, workspace: Workspace, questions: Sequence[str]) -> dict[str, dict]:
    """Each path alone. A generating path: the engine (streamer on) and plain `generate` on the same input,
    alternating which goes first; tokens/s over the generation itself. Others: the time of their answer."""
    figures: dict[str, dict[str, list[float]]] = {p: {"ms": [], "ttft": [], "tps": [], "base_tps": []}
                                                  for p in PATH_IDS}
    decoding = engine.Decoding(settings.max_new_tokens, 0.0, settings.seed)
    for number, question in enumerate(questions):
        for path_id in PATH_IDS:
            trace = ask(question, settings, [path_id], concurrent=False, workspace=workspace)[path_id]
            if isinstance(trace, str):
                raise RuntimeError(f"{path_id}: {trace}")
            figures[path_id]["ms"].append(trace.total_ms)
            figures[path_id]["ttft"].append(trace.ttft_ms)
            job = PATHS[path_id].answer(question, settings, workspace)
            if not isinstance(job, Generation):
                continue
            ours = lambda: len(engine.generate(job.generator, job.prompt_ids, decoding, job.adapter,  # noqa: E731
                                              logits_processor=job.logits_processors or None).ids)
            plain = lambda: _plain_generate(job, decoding)  # noqa: E731
            for run, key in ((ours, "tps"), (plain, "base_tps"))[:: 1 if number % 2 == 0 else -1]:
                started = time.perf_counter()
                tokens = run()
                figures[path_id][key].append(tokens / (time.perf_counter() - started))
    result = {}
    for path_id, f in figures.items():
        generating = bool(f["tps"])
        tps, base = (round(statistics.median(f[k]), 1) if generating else None for k in ("tps", "base_tps"))
        result[path_id] = {"mode": "generated" if generating else "extracted",
                           "answer_ms": round(statistics.median(f["ms"]), 1),
                           "first_token_ms": round(statistics.median(f["ttft"]), 1),
                           "tokens_per_s": tps, "baseline_generate_tokens_per_s": base,
                           "over_baseline": round(tps / base, 3) if generating and base else None}
    return result


@torch.inference_mode()
def _plain_generate(job: Generation, decoding: engine.Decoding) -> int:
    kwargs = engine.generate_kwargs(job.generator, job.prompt_ids, decoding, job.adapter,
                                    job.logits_processors or None)
    with job.generator.lock:
        output = job.generator.model.generate(**kwargs)
    new = output[0, 0 if job.generator.encoder_decoder else len(job.prompt_ids):]
    return int(new.numel()) - (1 if job.generator.encoder_decoder else 0)  # the decoder's start token


def _at_once_and_in_turn(settings: Settings, workspace: Workspace, questions: Sequence[str]) -> tuple[float, float]:
    """Summed wall times of all paths at once and one after another, paired question by question, the order
    alternating so a machine that speeds up or slows down weighs on both sides alike."""
    walls = {True: 0.0, False: 0.0}
    for number, question in enumerate(questions):
        for concurrent in ((True, False) if number % 2 == 0 else (False, True)):
            walls[concurrent] += _wall_s(lambda: ask(question, settings, concurrent=concurrent, workspace=workspace))
    return round(1000 * walls[True], 1), round(1000 * walls[False], 1)


def _retrieval(workspace: Workspace, questions: Sequence[str], k: int) -> dict[str, float]:
    searcher, index = workspace.searcher(), workspace.index()
    times: dict[str, list[float]] = {"search": [], "faiss": [], "numpy": []}
    for question in questions:
        times["search"].append(_wall_s(lambda: searcher.search(question, k)))
        times["faiss"].append(_wall_s(lambda: index.search(question, k)))
        times["numpy"].append(_wall_s(lambda: np.argsort(-(index.vectors @ index.embed_queries([question])[0]))[:k]))
    p50 = {key: round(1000 * statistics.median(values), 2) for key, values in times.items()}
    return {"retrieval_p50_ms": p50["search"], "faiss_alone_p50_ms": p50["faiss"],
            "baseline_numpy_p50_ms": p50["numpy"]}


def run_bench(settings: Settings, repeats: int = 1, cold_start: bool = True) -> dict:
    settings = replace(settings, temperature=0.0)
    questions = BENCH_QUESTIONS * repeats
    result: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "questions": len(questions)}
    if cold_start:
        result["cold_start_ms"] = round(_fresh_process_ms(COLD_START_SCRIPT, questions[0]), 1)
        result["baseline_import_only_ms"] = round(_fresh_process_ms(IMPORT_ONLY_SCRIPT), 1)
    _import_libraries()
    result["baseline_rss_after_imports_mb"] = round(peak_rss_mb(), 1)
    workspace = Workspace(settings)
    ask(questions[0], settings, workspace=workspace)  # load every model and the index once, untimed
    result["paths"] = _per_path(settings, workspace, questions)
    at_once, in_turn = _at_once_and_in_turn(settings, workspace, questions * ROUNDS)
    result.update(concurrent_wall_ms=at_once, sequential_wall_ms=in_turn,
                  concurrent_over_sequential=round(at_once / in_turn, 3))
    result.update(_retrieval(workspace, [q for q in questions for _ in range(10)], settings.top_k_passages))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["machine"] = machine()  # after the asks: they apply the settings' torch threads
    return result


def machine() -> str:
    return (f"{platform.machine()} {platform.system()}, {torch.get_num_threads()} torch threads, "
            f"python {platform.python_version()}, torch {torch.__version__}")
