"""`fourpaths bench --served`: the endpoint engine (the settings' endpoint_url, e.g. `fourpaths serve`) beside the
local one, on the paths an endpoint can write (prompt, the generative LoRA adapter, generated RAG):

- each path alone: answer time, first token, tokens/s;
- four questions at once against the same four one after another (all the served paths of each question);
- parity and contamination: every answer given while the four questions were in flight together (so the server
  batched base and adapter requests) against the local engine's greedy token ids for the same question. A base
  answer that took in an adapter's weights (or the reverse) differs from its local twin.

Greedy, with the prompt path's local-only constraints off on both sides, so the two engines get the same task.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import replace
from typing import Sequence

from fourpaths.answering.pipeline import ask
from fourpaths.answering.workspace import Workspace
from fourpaths.config import ENDPOINT_PATHS, Settings
from fourpaths.measure.bench import BENCH_QUESTIONS

QUESTIONS = (*BENCH_QUESTIONS, "Who approves a password reset at Quillmoor?")[:4]
ROUNDS = 3


def run_served_bench(settings: Settings, rounds: int = ROUNDS) -> dict:
    served = replace(settings, engine="openai", prompt_engine="", lora_engine="", rag_engine="", temperature=0.0,
                     prompt_constraints=False, rag_answer="generated", concurrent_questions=len(QUESTIONS))
    local = replace(served, engine="local")
    workspace, local_workspace = Workspace(served), Workspace(local)
    paths = [p for p in ENDPOINT_PATHS if p != "lora" or not workspace.lora_is_answer_head()]
    endpoint = workspace.endpoint(paths[0])
    ask(QUESTIONS[0], served, paths, workspace=workspace)  # connect and warm the server, untimed
    expected = {q: ask(q, local, paths, workspace=local_workspace) for q in QUESTIONS}
    alone = {p: {"ms": [], "ttft": [], "tps": []} for p in paths}
    walls = {"at_once": 0.0, "in_turn": 0.0}
    compared = differ = 0
    for number in range(rounds):
        for question in QUESTIONS:
            for path_id in paths:
                trace = _answered(ask(question, served, [path_id], workspace=workspace), path_id)
                alone[path_id]["ms"].append(trace.total_ms)
                alone[path_id]["ttft"].append(trace.ttft_ms)
                alone[path_id]["tps"].append(trace.tokens_per_s)
        for at_once in ((True, False) if number % 2 == 0 else (False, True)):
            started = time.perf_counter()
            results = _at_once(served, paths, workspace) if at_once else \
                {q: ask(q, served, paths, concurrent=False, workspace=workspace) for q in QUESTIONS}
            walls["at_once" if at_once else "in_turn"] += time.perf_counter() - started
            if at_once:
                for question, answers in results.items():
                    for path_id in paths:
                        compared += 1
                        mine = _answered(answers, path_id).token_ids or _answered(answers, path_id).text
                        theirs = _answered(expected[question], path_id)
                        differ += mine != (theirs.token_ids if endpoint.token_ids else theirs.text)
    return {"endpoint": served.endpoint_url, "paths": {p: _medians(f) for p, f in alone.items()},
            "questions_at_once": len(QUESTIONS), "concurrent_wall_ms": round(1000 * walls["at_once"], 1),
            "sequential_wall_ms": round(1000 * walls["in_turn"], 1),
            "concurrent_over_sequential": round(walls["at_once"] / walls["in_turn"], 3),
            "compared_by": "token ids" if endpoint.token_ids else "text",
            "answers_compared_with_local": compared, "answers_differing_from_local": differ}


def summary(served: dict) -> list[str]:
    """The served figures as `fourpaths bench` prints them."""
    lines = [f"served {path_id:<8} {p['answer_ms']:>7.0f} ms  ({p['tokens_per_s']:.0f} tok/s)"
             for path_id, p in served["paths"].items()]
    s = served
    lines.append(f"served: {s['questions_at_once']} questions at once {s['concurrent_wall_ms']:.0f} ms vs one after "
                 f"another {s['sequential_wall_ms']:.0f} ms (ratio {s['concurrent_over_sequential']:.2f}); "
                 f"{s['answers_differing_from_local']} of {s['answers_compared_with_local']} answers given together "
                 f"differ from the local engine's ({s['compared_by']})")
    return lines


def _at_once(settings: Settings, paths: Sequence[str], workspace: Workspace) -> dict:
    """The four questions asked together, each from a thread of its own, as four users would."""
    results: dict = {}

    def one(question: str) -> None:
        results[question] = ask(question, settings, paths, workspace=workspace)

    threads = [threading.Thread(target=one, args=(question,)) for question in QUESTIONS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _answered(results: dict, path_id: str):
    result = results[path_id]
    if isinstance(result, str):
        raise RuntimeError(f"{path_id}: {result}")
    return result


def _medians(figures: dict[str, list[float]]) -> dict[str, float]:
    return {"answer_ms": round(statistics.median(figures["ms"]), 1),
            "first_token_ms": round(statistics.median(figures["ttft"]), 1),
            "tokens_per_s": round(statistics.median(figures["tps"]), 1)}
