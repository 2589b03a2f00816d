"""`fourpaths ask | eval | bench | index`: the CLI faces of the package, sharing the app's code paths."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap

from tqdm import tqdm

from fourpaths.ask import DoneEvent, ErrorEvent, Trace, ask_stream
from fourpaths.config import Settings, load_settings, with_overrides
from fourpaths.paths import PATH_IDS, PATHS
from fourpaths.workspace import Workspace


def add_generation_options(parser) -> None:
    parser.add_argument("--config", default=None, help="TOML file of settings (default: fourpaths.toml if present)")
    parser.add_argument("--template", default=None, help="prompt template for the prompt path")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--temperature", type=float, default=None, help="0 for greedy")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--top-k", type=int, default=None, help="passages retrieved for RAG")


def settings_from(args) -> Settings:
    settings = load_settings(args.config)
    return with_overrides(settings, template=args.template, max_new_tokens=args.max_new_tokens,
                          temperature=args.temperature, seed=args.seed, top_k_passages=args.top_k)


def _bar_progress(description: str):
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, file=sys.stderr, dynamic_ncols=True)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def run_ask(args) -> int:
    settings = settings_from(args)
    workspace = Workspace(settings, index_progress=_bar_progress("indexing corpus"))
    traces: dict[str, Trace] = {}
    errors: dict[str, str] = {}
    for event in ask_stream(args.question, settings, PATH_IDS, concurrent=True, workspace=workspace):
        if isinstance(event, DoneEvent):
            traces[event.path] = event.trace
        elif isinstance(event, ErrorEvent):
            errors[event.path] = event.message
    if args.json:
        question = " ".join(args.question.split())
        answers = [_answer_json(traces[p]) if p in traces else {"path": p, "error": errors.get(p, "no answer")}
                   for p in PATH_IDS]
        print(json.dumps({"question": question, "answers": answers}, ensure_ascii=False, indent=2))
    else:
        _print_side_by_side(traces, errors)
    if not traces:
        summary = "; ".join(f"{path}: {message}" for path, message in errors.items())
        print(f"fourpaths: error: no path answered ({summary})", file=sys.stderr)
        return 1
    return 0


def _answer_json(trace: Trace) -> dict:
    return {"path": trace.path, "text": trace.text, "ttft_ms": trace.ttft_ms, "total_ms": trace.total_ms,
            "new_tokens": trace.new_tokens, "tokens_per_s": trace.tokens_per_s, "prompt": trace.prompt,
            "sources": [{"source": s.source, "score": round(s.score, 4), "text": s.text} for s in trace.sources],
            "facts": trace.facts}


def _print_side_by_side(traces: dict[str, Trace], errors: dict[str, str]) -> None:
    width = max(24, (shutil.get_terminal_size((120, 20)).columns - 3 * (len(PATH_IDS) - 1)) // len(PATH_IDS))
    columns = []
    for path_id in PATH_IDS:
        if path_id in traces:
            t = traces[path_id]
            body = f"{t.text}\n\nttft {t.ttft_ms:.0f} ms | total {t.total_ms:.0f} ms | {t.tokens_per_s:.1f} tok/s"
            if t.sources:
                body += "\n" + "\n".join(f"[{i + 1}] {s.source} ({s.score:.2f})" for i, s in enumerate(t.sources))
        else:
            body = f"error: {errors.get(path_id, 'no answer')}"
        lines = [PATHS[path_id].title, "-" * width]
        for paragraph in body.split("\n"):
            lines += textwrap.wrap(paragraph, width) or [""]
        columns.append(lines)
    height = max(len(c) for c in columns)
    for row in range(height):
        print(" | ".join((c[row] if row < len(c) else "").ljust(width) for c in columns).rstrip())


def run_eval(args) -> int:
    from fourpaths.evaluation import evaluate

    settings = settings_from(args)
    report = evaluate(args.split, settings, args.limit, progress=_bar_progress(f"eval {args.split}"))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"split {report['split']}, {report['n']} questions, greedy")
    print(f"{'path':<10}{'accuracy':>10}{'f1':>8}{'p50 ms':>10}{'p95 ms':>10}")
    for path_id, s in report["paths"].items():
        print(f"{path_id:<10}{s['accuracy']:>10.3f}{s['f1']:>8.3f}{s['p50_ms']:>10.0f}{s['p95_ms']:>10.0f}")
    print(f"retrieval hit@{report['retrieval']['k']}: {report['retrieval']['hit_at_k']:.3f}")
    return 0


def run_bench(args) -> int:
    from fourpaths.bench import run_bench as bench

    result = bench(settings_from(args), repeats=args.repeats, cold_start=not args.no_cold_start)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"cold start {result.get('cold_start_ms', 0):.0f} ms (imports alone {result.get('baseline_import_only_ms', 0):.0f} ms)")
    for path_id, p in result["paths"].items():
        print(f"{path_id:<8} ttft {p['ttft_ms']:>7.0f} ms  total {p['total_ms']:>7.0f} ms  {p['tokens_per_s']:>6.1f} tok/s"
              f"  (generate(): {p['baseline_tokens_per_s']:.1f} tok/s)")
    print(f"four paths: concurrent {result['concurrent_wall_ms']:.0f} ms vs one after another "
          f"{result['sequential_wall_ms']:.0f} ms (ratio {result['concurrent_over_sequential']:.2f})")
    print(f"retrieval p50 {result['retrieval_p50_ms']:.1f} ms ({result['retrieval']}; FAISS alone "
          f"{result['dense_faiss_retrieval_p50_ms']:.1f} ms, numpy exact {result['baseline_numpy_retrieval_p50_ms']:.1f} ms)")
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB (after imports {result['baseline_rss_after_imports_mb']:.0f} MB)")
    return 0


def run_index(args) -> int:
    from fourpaths.config import resolve_location
    from fourpaths.retrieval import open_index

    settings = settings_from(args)
    workspace = Workspace(settings)
    if args.rebuild and workspace.index_dir().exists():
        shutil.rmtree(workspace.index_dir())
    index, rebuilt = open_index(workspace.corpus_root(), workspace.index_dir(), resolve_location(settings.embedder),
                                settings.chunk_words, settings.chunk_overlap,
                                progress=_bar_progress("embedding chunks and sentences"))
    print(f"index: {len(index)} chunks and {len(index.sentence_vectors)} sentences in {workspace.index_dir()} "
          f"({'rebuilt' if rebuilt else 'up to date'})")
    return 0
