"""Speed and memory of the four paths, each figure beside a plain baseline measured in the same run.

- cold start: a fresh process from launch to its first complete answer, beside a fresh process that only
  imports the libraries;
- generation: our batched streaming loop per path, beside transformers' `generate` on the same prompt;
- four paths concurrently (batched + interleaved) beside the same four one after another;
- retrieval: the RAG path's search (hybrid by default) and FAISS alone, beside an exact NumPy dot product;
- memory: peak resident set with every model loaded (this process, plus the private pages of the decode lanes'
  forked workers), beside the peak after imports alone.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from fourpaths.ask import DoneEvent, ask, ask_stream, sampling_from
from fourpaths.config import Settings
from fourpaths.generation import baseline_generate
from fourpaths.lanes import usable_lanes, worker_private_peak_mb
from fourpaths.paths import PATH_IDS, PATHS
from fourpaths.workspace import Workspace

BENCH_QUESTIONS = (
    "How many days of annual leave do Quillmoor employees get?",
    "What is the list price of the Ferret AMR?",
    "How much does a Loomwork subscription cost per robot per month?",
)
COLD_START_SCRIPT = (
    "import json, sys, time; from fourpaths.bench import first_answer_time; "
    "print(json.dumps({'first_answer_at': first_answer_time(sys.argv[1])}))"
)
CONCURRENCY_ROUNDS = 3  # passes over the questions for the concurrent-against-sequential pairs
IMPORT_ONLY_SCRIPT = (
    "import json, time; import torch, transformers, sentence_transformers, faiss, peft; "
    "print(json.dumps({'first_answer_at': time.time()}))"
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def first_answer_time(question: str) -> float:
    """Run in a fresh process by the cold-start measurement: wall-clock time of the first finished answer."""
    from fourpaths.config import load_settings

    first = None
    for event in ask_stream(question, load_settings()):  # drained to the end: exiting mid-generation aborts
        if isinstance(event, DoneEvent) and first is None:
            first = time.time()
    if first is None:
        raise RuntimeError("no path answered")
    return first


def _fresh_process_ms(script: str, *args: str) -> float:
    launched = time.time()
    output = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return 1000 * (json.loads(output.stdout.strip().splitlines()[-1])["first_answer_at"] - launched)


def _per_path(settings: Settings, workspace: Workspace, questions: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each path alone on each question: our loop's figures, then `generate` on the very same prompt."""
    figures: dict[str, dict[str, list[float]]] = {p: {"ttft": [], "total": [], "tps": [], "base_tps": []}
                                                  for p in PATH_IDS}
    sampling = sampling_from(settings)
    for question in questions:
        for path_id in PATH_IDS:
            trace = ask(question, settings, [path_id], concurrent=False, workspace=workspace)[path_id]
            if isinstance(trace, str):
                raise RuntimeError(f"{path_id}: {trace}")
            job = PATHS[path_id].prepare(question, settings, workspace)
            tokenizer = job.model.tokenizer
            with job.model.lock:
                new, seconds = baseline_generate(job.model.model, job.prompt_ids, sampling, tokenizer.pad_token_id,
                                                 tokenizer.eos_token_id, job.adapter)
            figures[path_id]["ttft"].append(trace.ttft_ms)
            figures[path_id]["total"].append(trace.total_ms)
            figures[path_id]["tps"].append(trace.tokens_per_s)
            figures[path_id]["base_tps"].append(len(new) / seconds if seconds > 0 else 0.0)
    return {path_id: {"ttft_ms": round(statistics.median(f["ttft"]), 1),
                      "total_ms": round(statistics.median(f["total"]), 1),
                      "tokens_per_s": round(statistics.median(f["tps"]), 1),
                      "baseline_tokens_per_s": round(statistics.median(f["base_tps"]), 1)}
            for path_id, f in figures.items()}


def _wall_ms(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return 1000 * (time.perf_counter() - started)


def _retrieval(workspace: Workspace, questions: Sequence[str], k: int) -> tuple[float, float, float]:
    """p50 of what the RAG path searches with (hybrid by default), of FAISS alone, and of exact NumPy."""
    searcher, index = workspace.searcher(), workspace.index()
    ours, dense, baseline = [], [], []
    vectors = index.vectors
    for question in questions:
        ours.append(_wall_ms(lambda: searcher.search(question, k)))
        dense.append(_wall_ms(lambda: index.search(question, k)))
        baseline.append(_wall_ms(lambda: _numpy_search(index, vectors, question, k)))
    return tuple(round(statistics.median(times), 2) for times in (ours, dense, baseline))


def _numpy_search(index, vectors: np.ndarray, question: str, k: int) -> list[int]:
    from fourpaths.retrieval import embed_texts

    query = embed_texts(index.embedder, [question])[0]
    return list(np.argsort(-(vectors @ query))[:k])


def _concurrent_and_sequential(settings: Settings, workspace: Workspace, questions: Sequence[str]) -> tuple[float, float]:
    """Summed wall times of asking all paths at once and one after another, paired question by question.

    The order within a pair alternates, so a machine that slows down or speeds up during the run weighs on
    both sides alike (one pass of each, first all at once then all one after another, moved the ratio between
    0.50 and 0.70 on consecutive runs)."""
    walls = {True: 0.0, False: 0.0}
    for number, question in enumerate(questions):
        for concurrent in ((True, False) if number % 2 == 0 else (False, True)):
            walls[concurrent] += _wall_ms(lambda: ask(question, settings, concurrent=concurrent, workspace=workspace))
    return round(walls[True], 1), round(walls[False], 1)


def run_bench(settings: Settings, repeats: int = 1, cold_start: bool = True) -> dict:
    settings = replace(settings, temperature=0.0)
    questions = BENCH_QUESTIONS * repeats
    result: dict[str, object] = {}
    if cold_start:
        result["cold_start_ms"] = round(_fresh_process_ms(COLD_START_SCRIPT, questions[0]), 1)
        result["baseline_import_only_ms"] = round(_fresh_process_ms(IMPORT_ONLY_SCRIPT), 1)
    rss_before_models = peak_rss_mb()
    workspace = Workspace(settings)
    ask(questions[0], settings, workspace=workspace)  # load every model and the index once, untimed
    result["paths"] = _per_path(settings, workspace, questions)
    lanes = usable_lanes(settings.decode_lanes, len(PATH_IDS))
    result["concurrent_wall_ms"], result["sequential_wall_ms"] = _concurrent_and_sequential(
        settings, workspace, questions * CONCURRENCY_ROUNDS)
    result["concurrent_over_sequential"] = round(result["concurrent_wall_ms"] / result["sequential_wall_ms"], 3)
    result["concurrency_pairs"] = len(questions) * CONCURRENCY_ROUNDS
    retrieval_questions = [q for q in questions for _ in range(10)]
    (result["retrieval_p50_ms"], result["dense_faiss_retrieval_p50_ms"],
     result["baseline_numpy_retrieval_p50_ms"]) = _retrieval(workspace, retrieval_questions, settings.top_k_passages)
    result["retrieval"] = settings.retrieval
    # A forked lane worker shares every page it has not written with this process, so the app holds this
    # process's peak plus the worker's private pages (at most one worker runs beside it on two cores).
    main_mb, worker_mb = peak_rss_mb(), worker_private_peak_mb()
    result["peak_rss_main_mb"] = round(main_mb, 1)
    result["peak_lane_worker_private_mb"] = round(worker_mb, 1)
    result["peak_rss_mb"] = round(main_mb + worker_mb * max(0, lanes - 1), 1)
    result["decode_lanes"] = lanes
    result["baseline_rss_after_imports_mb"] = round(rss_before_models, 1)
    result["questions"] = len(questions)
    return result
