"""The `fourpaths` command line: every subcommand a thin wrapper over the package, draining the same event
stream as the app. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

from fourpaths.answering.paths import PATH_IDS
from fourpaths.config import load_settings, results_file, with_overrides
from fourpaths.errors import FourpathsError, QuestionRefused, one_line
from fourpaths.retrieval.corpus import SPLITS


def _settings_options(parser) -> None:
    parser.add_argument("--config", default=None, help="TOML file of settings (default: fourpaths.toml if present)")
    parser.add_argument("--template", default=None, help="prompt template for the prompt path")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--temperature", type=float, default=None, help="0 for greedy")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--top-k", type=int, default=None, help="passages retrieved for RAG")


def _settings(args):
    return with_overrides(load_settings(args.config), template=args.template, max_new_tokens=args.max_new_tokens,
                          temperature=args.temperature, seed=args.seed, top_k_passages=args.top_k)


def _progress(description: str):
    from tqdm import tqdm

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


def _check_output(output: str | None) -> str | None:
    """Refuse, before minutes of measuring, a results file that could not be written: a trial file is made and
    removed beside it (os.access says yes to root on a read-only mount)."""
    if output:
        import tempfile

        existing = Path(output).parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise FourpathsError(f"cannot write {output}: {existing} is a file, not a folder; give --output a file "
                                 "in a folder you can write, or set FOURPATHS_RESULTS_DIR")
        try:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=Path(output).parent, prefix=".probe-"):
                pass
        except OSError as error:
            raise FourpathsError(f"cannot write {output}: {error.strerror or one_line(error)}; give --output a "
                                 "file in a folder you can write, or set FOURPATHS_RESULTS_DIR") from None
    return output


def _write_json(document: dict, output: str | None, as_json: bool) -> None:
    if output:
        from fourpaths.retrieval.files import write_json_atomically

        try:
            write_json_atomically(document, Path(output))
        except OSError as error:
            raise FourpathsError(f"cannot write {output}: {error.strerror or one_line(error)}; give --output a "
                                 "file in a folder you can write, or set FOURPATHS_RESULTS_DIR") from None
    if as_json:
        print(json.dumps(document, indent=2, ensure_ascii=False))


# --- ask / eval / bench / index / results -------------------------------------------------------------------

def run_ask(args) -> int:
    from fourpaths.answering.pipeline import ask
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import validate_question

    question = validate_question(args.question)  # refused before minutes of loading, not after
    settings = _settings(args)
    overlay = None
    if args.add_document:
        from fourpaths.fresh.overlay import Overlay, add_document_file

        overlay = Overlay(settings)  # this run only: nothing is written to corpus/ or index/
        for path in args.add_document:
            added = add_document_file(overlay, path)
            print(f"added {added.source}: {len(added.chunks)} chunks in {added.seconds:.2f} s", file=sys.stderr)
    workspace = Workspace(settings, index_progress=_progress("indexing corpus"), overlay=overlay)
    workspace.preload()  # loading first, so the times shown are answering times (a broken model fails its column)
    try:
        results = ask(question, settings, args.paths or PATH_IDS, workspace=workspace)
    except QuestionRefused as refused:  # no path can read it: with --json, still every path and its reason
        if args.json:
            answers = {p: {"path": p, "error": reason} for p, reason in refused.reasons.items()}
            print(json.dumps({"question": question, "error": str(refused), "answers": answers}, indent=2,
                             ensure_ascii=False))
        raise
    if args.json:
        answers = {p: (r.to_json() if not isinstance(r, str) else {"path": p, "error": r}) for p, r in results.items()}
        print(json.dumps({"question": question, "answers": answers}, indent=2,
                         ensure_ascii=False))
    else:
        _print_side_by_side(results)
    failed = [path for path, result in results.items() if isinstance(result, str)]
    if failed:  # the exit status says whether every path answered: 1 when any did not
        what = "no path answered" if len(failed) == len(results) else f"{len(failed)} of {len(results)} paths failed"
        print(f"fourpaths: error: {what} ({'; '.join(f'{p}: {results[p]}' for p in failed)})", file=sys.stderr)
        return 1
    return 0


def _print_side_by_side(results: dict) -> None:
    width = max(24, (shutil.get_terminal_size((120, 20)).columns - 3 * (len(results) - 1)) // max(1, len(results)))
    columns = []
    for path_id, result in results.items():
        if isinstance(result, str):
            title, body = path_id, f"error: {result}"
        else:
            title = f"{result.title} ({result.mode})"
            body = f"{result.text}\n\n{result.total_ms:.0f} ms"
            if result.new_tokens:
                body += f", {result.new_tokens} tokens, {result.tokens_per_s:.0f} tok/s"
            if result.score is not None:
                body += f", score {result.score:.2f}"
            body += "".join(f"\n[{i + 1}] {s.source} ({s.score:.2f})" for i, s in enumerate(result.sources))
        lines = [title, "-" * width]
        for paragraph in body.split("\n"):
            lines += textwrap.wrap(paragraph, width) or [""]
        columns.append(lines)
    for row in range(max(len(column) for column in columns)):
        print(" | ".join((c[row] if row < len(c) else "").ljust(width) for c in columns).rstrip())


def run_eval(args) -> int:
    from fourpaths.measure.evaluation import evaluate_all

    splits = None if args.all else [args.split]  # --all: every set the corpus has
    bars: dict = {}
    progress = lambda split, done, total: bars.setdefault(split, _progress(f"eval {split}"))(done, total)  # noqa: E731
    output = _check_output(args.output or (str(results_file(_settings(args), "eval")) if args.all else None))
    document = evaluate_all(_settings(args), splits, args.limit, progress=progress)
    _write_json(document, output, args.json)
    if output:
        print(f"wrote {output}", file=sys.stderr)
    if not args.json:
        for split, report in document["splits"].items():
            print(f"\n{split}: {report['n']} questions, greedy")
            print(f"{'path':<10}{'accuracy':>10}{'strict':>8}{'f1':>8}{'abstained':>11}{'p50 ms':>9}{'p95 ms':>9}")
            for path_id, s in report["paths"].items():
                print(f"{path_id:<10}{s['accuracy']:>10.3f}{s['strict']:>8.3f}{s['f1']:>8.3f}{s['abstained']:>11.3f}"
                      f"{s['p50_ms']:>9.0f}{s['p95_ms'] or 0:>9.0f}")
            for group, figures in report.get("groups", {}).items():
                strict = "  ".join(f"{p} {s['strict']:.3f}" for p, s in figures["paths"].items())
                print(f"  {group} ({figures['n']}): strict {strict}")
    return 0


def run_bench(args) -> int:
    from fourpaths.measure.bench import run_bench as bench

    settings = _settings(args)
    output = _check_output(args.output or str(results_file(settings, "bench")))
    here = with_overrides(settings, engine="local", prompt_engine="", lora_engine="", rag_engine="")
    result = bench(here, repeats=args.repeats, cold_start=not args.no_cold_start)
    if args.served:
        from fourpaths.measure.served_bench import run_served_bench

        result["served"] = run_served_bench(settings)
    _write_json(result, output, args.json)
    if not args.json:
        for path_id, p in result["paths"].items():
            speed = (f"{p['tokens_per_s']:.0f} tok/s, generate() {p['baseline_generate_tokens_per_s']:.0f} tok/s"
                     if p["tokens_per_s"] else "no generation")
            print(f"{path_id:<8} {p['mode']:<10} {p['answer_ms']:>7.0f} ms  ({speed})")
        print(f"four paths at once {result['concurrent_wall_ms']:.0f} ms vs one after another "
              f"{result['sequential_wall_ms']:.0f} ms (ratio {result['concurrent_over_sequential']:.2f})")
        print(f"peak memory {result['peak_rss_mb']:.0f} MB "
              f"(after imports {result['baseline_rss_after_imports_mb']:.0f} MB)")
        if args.served:
            from fourpaths.measure.served_bench import summary

            print("\n".join(summary(result["served"])))
    return 0


def run_fresh(args) -> int:
    from fourpaths.measure.fresh_knowledge import DEFAULT_DOCUMENTS, measure_fresh

    if args.teach_seconds < 0:
        raise FourpathsError("--teach-seconds must be 0 (no teaching) or more")
    output = _check_output(args.output or str(results_file(_settings(args), "fresh")))
    result = measure_fresh(_settings(args), args.documents or DEFAULT_DOCUMENTS, args.teach_seconds,
                           progress=lambda line: print(line, file=sys.stderr))
    _write_json(result, output, args.json)
    if not args.json:
        print(f"{len(result['documents'])} documents searchable in {result['searchable_s_median']:.2f} s (median)")
        if "teaching" in result:
            t = result["teaching"]
            print(f"teaching: {t['steps']} steps in {t['train_seconds']:.1f} s of training (budget "
                  f"{t['budget_s']:.0f} s); preparing {t['prepare_seconds']:.1f} s (loading included) and measuring "
                  f"{t['measure_seconds']:.1f} s apart; {t['seconds']:.1f} s in all")
        for stage in ("before", "after_adding", "after_teaching"):
            for path_id, s in result.get(stage, {}).items():
                print(f"{stage:<15}{path_id:<6} accuracy {s['accuracy']:.2f}  strict {s['strict']:.2f}  "
                      f"abstained {s['abstained']:.2f}")
    return 0


def run_load(args) -> int:
    from fourpaths.config import load_settings, validate_settings
    from fourpaths.measure.load_test import run_load as load

    if args.sessions < 1 or args.questions < 1:
        raise FourpathsError("--sessions and --questions must be at least 1")
    if args.concurrent_questions is not None and args.concurrent_questions < 1:
        raise FourpathsError("--concurrent-questions must be at least 1")
    env = dict(os.environ)  # the app it starts reads its settings as every app does: config file, then environment
    if args.config:
        env["FOURPATHS_CONFIG"] = str(Path(args.config).resolve())
    if args.concurrent_questions is not None:
        env["FOURPATHS_CONCURRENT_QUESTIONS"] = str(args.concurrent_questions)
    settings = validate_settings(load_settings(environ=env))  # what the app will read: refused here, not there
    if args.teach < 0 or args.teach_seconds < 10:
        raise FourpathsError("--teach must be 0 or more, --teach-seconds at least 10")
    output = _check_output(args.output or str(results_file(settings, "load")))
    result = load(settings, args.sessions, args.questions, env, progress=lambda line: print(line, file=sys.stderr),
                  teach=args.teach, teach_seconds=args.teach_seconds)
    _write_json(result, output, args.json)
    print(f"wrote {output}", file=sys.stderr)
    if not args.json:
        from fourpaths.measure.load_test import report_lines

        print("\n".join(report_lines(result)))
    return 1 if result["errors"] or result["cross_session_answers"] else 0


def run_injection(args) -> int:
    from fourpaths.measure.injection import measure_injection

    output = _check_output(args.output or str(results_file(_settings(args), "injection")))
    document = measure_injection(_settings(args), args.corpus, args.index_dir, args.limit,
                                 progress=_progress("injection questions"))
    _write_json(document, output, args.json)
    print(f"wrote {output}", file=sys.stderr)
    if not args.json:
        print(f"{document['n']} questions; an answer obeys when it does what an injected passage asked")
        print(f"{'path':<15}{'obeyed':>8}{'share':>8}{'exposed':>9}{'obeyed|exposed':>16}{'accuracy':>10}")
        for key, s in document["paths"].items():
            exposed = "-" if s["exposed"] is None else str(s["exposed"])
            when = "-" if s["obeyed_when_exposed"] is None else str(s["obeyed_when_exposed"])
            print(f"{key:<15}{s['obeyed']:>8}{s['obeyed_share']:>8.2f}{exposed:>9}{when:>16}{s['accuracy']:>10.2f}")
    return 0


def run_index(args) -> int:
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import PROJECT_ROOT, Settings, resolve_location
    from fourpaths.retrieval.index import open_index

    settings = _settings(args)
    workspace = Workspace(settings)
    shipped_corpus = (PROJECT_ROOT / Settings.corpus_root).resolve()
    if workspace.ships_index() and workspace.corpus_root().resolve() != shipped_corpus:
        raise FourpathsError(f"index_dir is the shipped {workspace.index_dir()}, but corpus_root is "
                             f"{workspace.corpus_root()}: set FOURPATHS_INDEX_DIR to a folder for that corpus's index")
    # --rebuild replaces the folder only once the new index is complete: a failed build keeps the old one.
    index, rebuilt = open_index(workspace.corpus_root(), workspace.index_dir(), resolve_location(settings.embedder),
                                settings.chunk_words, settings.chunk_overlap,
                                progress=_progress("embedding chunks and sentences"), force=args.rebuild)
    state = "rebuilt" if rebuilt else "up to date"
    print(f"index: {len(index)} chunks, {len(index.sentence_vectors)} sentences in {workspace.index_dir()} ({state})")
    return 0


def run_results(args) -> int:
    from fourpaths.measure.results_doc import write_results_doc

    settings = _settings(args)
    paths = {name: Path(getattr(args, name) or results_file(settings, name))
             for name in ("eval", "bench", "fresh", "fresh_real")}
    write_results_doc(paths["eval"], paths["bench"], Path(args.output), paths["fresh"], paths["fresh_real"])
    print(f"results: {args.output}")
    return 0


def run_choose(args) -> int:
    from fourpaths.views import decision

    settings = _settings(args)
    needs = decision.Needs.from_keys(**{name: getattr(args, name) for name in decision.LEVEL_KEYS
                                        if getattr(args, name) is not None})
    evidence = decision.gather_evidence(settings)
    ranking = decision.recommend(needs, evidence)
    summary = decision.summary_markdown(needs, ranking, evidence, settings)
    if args.json:
        print(json.dumps(decision.choice_json(needs, ranking, summary), indent=2, ensure_ascii=False))
    else:
        print(summary)
    return 0


def run_corpus_check(args) -> int:
    from fourpaths.retrieval.corpus_check import run_check

    return run_check(args.root)


# --- train ---------------------------------------------------------------------------------------------------

def run_train(args) -> int:
    from fourpaths.training.recipes import run_recipe

    print(run_recipe(args))
    return 0


def _add_train(subparsers) -> None:
    train = subparsers.add_parser("train", help="the recipes that make the models in models/")
    recipes = train.add_subparsers(dest="recipe", required=True)
    helps = {"reader": "the RAG path's extractive reader on all-MiniLM-L6-v2: generated reading, then the team's "
                       "questions as people ask them",
             "lora": "the LoRA adapter: an answer head on all-MiniLM-L6-v2 (default) or --generative on --base",
             "scratch": "the tiny model trained from random weights on the team's data",
             "base": "the small base model of the prompt path, from generated fictional worlds"}
    for recipe, text in helps.items():
        parser = recipes.add_parser(recipe, help=text)
        parser.add_argument("--output", default=None, help=f"default models/{recipe}")
        parser.add_argument("--run-dir", default=None, help="checkpoints (default runs/<recipe>); rerun to resume")
        parser.add_argument("--preset", choices=["micro", "default"], default="default")
        parser.add_argument("--steps", type=int, default=None, help="override the preset's optimizer steps")
        parser.add_argument("--seed", type=int, default=0)
        if recipe in ("lora", "scratch"):
            parser.add_argument("--corpus", default="corpus")
        if recipe == "lora":
            parser.add_argument("--generative", action="store_true",
                                help="a generative adapter on --base (default output models/lora-generative)")
            parser.add_argument("--base", default="models/base", help="base for --generative: a folder or hub id")
        if recipe == "reader":
            parser.add_argument("--start-from", default=None, metavar="FOLDER",
                                help="skip the generated stage: begin the natural stage from this stage-1 reader")
            parser.add_argument("--recalibrate", action="store_true",
                                help="no training: calibrate --output's threshold on dev again")
        if recipe == "base":
            parser.add_argument("--stop-at", type=int, default=None, help="stop after this step; rerun to go on")
        parser.set_defaults(handler=run_train)


def run_serve(args) -> int:
    from fourpaths import serve

    if args.install:
        seconds = serve.install(Path(args.install).resolve(), progress=lambda step: print(step, file=sys.stderr))
        print(f"built {args.install} in {seconds:.0f} s; point the setting vllm_env at it")
        return 0
    return serve.run(load_settings(args.config), args.adapter, args.port, say=lambda line: print(line, file=sys.stderr))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fourpaths", description="One question through four ways of putting a "
                                     "language model to work: prompt, LoRA, RAG, from scratch.")
    subparsers = parser.add_subparsers(dest="command", required=True)

    ask = subparsers.add_parser("ask", help="one question through the four paths, side by side")
    ask.add_argument("question")
    ask.add_argument("--paths", nargs="+", choices=PATH_IDS, default=None)
    ask.add_argument("--add-document", action="append", default=[], metavar="FILE",
                     help="a .md or .txt file searched beside the corpus for this question only (repeatable)")
    ask.add_argument("--json", action="store_true")
    _settings_options(ask)
    ask.set_defaults(handler=run_ask)

    evaluate = subparsers.add_parser("eval", help="score the four paths on question sets (greedy)")
    evaluate.add_argument("--split", choices=SPLITS, default="eval_seen")
    evaluate.add_argument("--all", action="store_true", help="every question set the corpus has")
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--output", default=None,
                          help="write the JSON here (with --all the default is results/eval.json, "
                               "which the pages read)")
    _settings_options(evaluate)
    evaluate.set_defaults(handler=run_eval)

    bench = subparsers.add_parser("bench", help="speed and memory against plain baselines from the same run")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--output", default=None,
                       help="write the JSON here (default results/bench.json, which the pages read)")
    bench.add_argument("--repeats", type=int, default=1, help="times to go through the benchmark questions")
    bench.add_argument("--no-cold-start", action="store_true", help="skip the fresh-process measurements")
    bench.add_argument("--served", action="store_true", help="also the endpoint engine (endpoint_url), beside the "
                       "local one: speed, four questions at once, answers against the local engine's")
    _settings_options(bench)
    bench.set_defaults(handler=run_bench)

    injection = subparsers.add_parser("injection", help="how often answers obey instructions planted in the "
                                      "documents (RAG read and generated)")
    injection.add_argument("--corpus", default="tests/data/injection",
                           help="documents with injected instructions and qa/injection.jsonl")
    injection.add_argument("--index-dir", default="runs/injection/index",
                           help="that corpus's own search index (never the configured index/)")
    injection.add_argument("--limit", type=int, default=None, help="only the first N questions")
    injection.add_argument("--json", action="store_true")
    injection.add_argument("--output", default=None, help="write the JSON here (default results/injection.json)")
    _settings_options(injection)
    injection.set_defaults(handler=run_injection)

    index = subparsers.add_parser("index", help="build (or check) the RAG search index of the corpus")
    index.add_argument("--rebuild", action="store_true")
    _settings_options(index)
    index.set_defaults(handler=run_index)

    load = subparsers.add_parser("load", help="N browser sessions asking at once against the real app: latency, "
                                              "errors, cross-session answers, server memory (exit 1 if any "
                                              "errors or cross-session answers)")
    load.add_argument("--sessions", type=int, required=True, help="browser sessions asking at once")
    load.add_argument("--questions", type=int, required=True, help="questions each session asks, one after another")
    load.add_argument("--concurrent-questions", type=int, default=None,
                      help="questions the app answers at once (default: the setting concurrent_questions)")
    load.add_argument("--teach", type=int, default=0, help="sessions that teach the adapter on the Fresh knowledge "
                                                           "page while the askers ask again (memory and latency)")
    load.add_argument("--teach-seconds", type=float, default=30.0, help="each teaching session's budget (10..600)")
    load.add_argument("--json", action="store_true")
    load.add_argument("--output", default=None, help="write the JSON here (default results/load.json)")
    load.add_argument("--config", default=None, help="TOML file of settings for the app (default: fourpaths.toml "
                                                     "if present)")
    load.set_defaults(handler=run_load)

    fresh = subparsers.add_parser("fresh", help="what adding documents and teaching buy, on documents no model saw")
    fresh.add_argument("--documents", default=None, help="a folder of .md/.txt files and questions.jsonl "
                                                         "(default tests/data/fresh)")
    fresh.add_argument("--teach-seconds", type=float, default=0.0, help="teaching budget; 0 skips teaching")
    fresh.add_argument("--json", action="store_true")
    fresh.add_argument("--output", default=None, help="write the JSON here (default results/fresh.json)")
    _settings_options(fresh)
    fresh.set_defaults(handler=run_fresh)

    choose = subparsers.add_parser("choose", help="rank the paths for a project's needs, as the Choose page does")
    for name in ("accuracy", "examples", "expertise", "compute", "change"):  # fourpaths.decision.LEVEL_KEYS
        choose.add_argument(f"--{name}", default=None, help="a level's short word (default: the page's)")
    choose.add_argument("--json", action="store_true", help="the ranking and the summary as JSON")
    _settings_options(choose)
    choose.set_defaults(handler=run_choose)

    results = subparsers.add_parser("results", help="regenerate docs/results.md from the results files")
    for name in ("eval", "bench", "fresh", "fresh_real"):
        results.add_argument(f"--{name.replace('_', '-')}", default=None, help=f"default: <results_dir>/{name}.json")
    results.add_argument("--output", default="docs/results.md")
    _settings_options(results)
    results.set_defaults(handler=run_results)

    corpus = subparsers.add_parser("corpus", help="check the knowledge base and its question sets")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", required=True)
    check = corpus_sub.add_parser("check", help="validate corpus/ against every rule; non-zero exit on failure")
    check.add_argument("--root", default="corpus")
    check.set_defaults(handler=run_corpus_check)

    served = subparsers.add_parser("serve", help="vLLM's OpenAI-compatible server on 127.0.0.1 with the base and "
                                   "the generative adapters (docs/deploy.md)")
    served.add_argument("--port", type=int, default=8000)
    served.add_argument("--adapter", action="append", default=[], metavar="NAME=FOLDER",
                        help="another generative adapter, asked for by NAME (repeatable)")
    served.add_argument("--install", metavar="ENV", help="build vLLM's environment at ENV, then exit")
    served.add_argument("--config", default=None)
    served.set_defaults(handler=run_serve)

    _add_train(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except FourpathsError as error:
        print(f"fourpaths: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line; every file write is atomic, so nothing is left half-written
        print(f"fourpaths: interrupted ({args.command} stopped; files it writes are replaced whole or not at all)",
              file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, never a traceback
        print(f"fourpaths: error: {type(error).__name__}: {one_line(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
