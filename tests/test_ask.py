"""One question through the four paths on micro models: traces, anatomy, errors that leave the rest working."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fourpaths.ask import DoneEvent, ErrorEvent, TokenEvent, Trace, ask, ask_stream
from fourpaths.errors import FourpathsError
from fourpaths.paths import PATH_IDS, PATHS
from fourpaths.prompts import PROMPT_TEMPLATES

QUESTION = "How many days of annual leave do Quillmoor employees get?"


def test_four_paths_answer_with_measured_traces(micro_settings):
    results = ask(QUESTION, micro_settings)
    assert list(results) == list(PATH_IDS)
    for path_id, trace in results.items():
        assert isinstance(trace, Trace), trace
        assert trace.title == PATHS[path_id].title
        assert 0 <= trace.ttft_ms <= trace.total_ms
        budget = micro_settings.quote_max_new_tokens if path_id == "rag" else micro_settings.max_new_tokens
        assert 1 <= trace.new_tokens <= budget  # a RAG quote has its own budget
        assert trace.tokens_per_s > 0
        assert QUESTION in trace.prompt
        assert trace.facts["parameters"] > 0


def test_rag_trace_has_scored_sources_numbered_in_its_prompt(micro_settings):
    trace = ask(QUESTION, micro_settings, ["rag"])["rag"]
    assert len(trace.sources) == micro_settings.top_k_passages
    assert all(-1 <= source.score <= 1 for source in trace.sources)  # cosine, whatever ranked them
    dense = ask(QUESTION, replace(micro_settings, retrieval="dense"), ["rag"])["rag"]
    scores = [source.score for source in dense.sources]
    assert scores == sorted(scores, reverse=True)  # hybrid ranks by fused rank, dense by this very score
    assert trace.sources[0].source == "docs/hr-annual-leave-policy.md"
    for number in range(1, len(trace.sources) + 1):
        assert f"[{number}] (" in trace.prompt


def test_lora_trace_describes_its_adapter(micro_settings):
    facts = ask(QUESTION, micro_settings, ["lora"])["lora"].facts
    assert facts["rank"] == 4 and 0 < facts["trainable_share"] < 1


@pytest.mark.parametrize("template", list(PROMPT_TEMPLATES))
def test_every_template_reaches_the_prompt(micro_settings, template):
    trace = ask(QUESTION, replace(micro_settings, template=template), ["prompt"])["prompt"]
    assert trace.facts["template"] == template
    if template == "few-shot":
        assert trace.prompt.count("<|user|>") == 1 + micro_settings.few_shot_examples


def test_stream_interleaves_tokens_and_ends_each_path_once(micro_settings):
    events = list(ask_stream(QUESTION, micro_settings))
    done = [event.path for event in events if isinstance(event, DoneEvent)]
    assert sorted(done) == sorted(PATH_IDS)
    assert all(isinstance(event, (TokenEvent, DoneEvent)) for event in events)


def test_concurrent_and_sequential_give_the_same_greedy_answers(micro_settings):
    together = ask(QUESTION, micro_settings, concurrent=True)
    apart = ask(QUESTION, micro_settings, concurrent=False)
    assert {p: t.text for p, t in together.items()} == {p: t.text for p, t in apart.items()}


@pytest.mark.parametrize("question, message", [("  ", "empty"), ("why? " * 200, "limit")])
def test_bad_questions_are_refused(micro_settings, question, message):
    with pytest.raises(FourpathsError, match=message):
        ask(question, micro_settings)


def test_missing_model_fails_only_its_own_path(micro_settings, tmp_path):
    settings = replace(micro_settings, scratch_model=str(tmp_path / "missing"))
    results = ask(QUESTION, settings)
    assert "not found" in results["scratch"]
    assert all(isinstance(results[p], Trace) for p in ("prompt", "lora", "rag"))


def test_unknown_path_is_refused(micro_settings):
    with pytest.raises(FourpathsError, match="unknown path"):
        ask(QUESTION, micro_settings, ["prompt", "oracle"])


def test_error_events_name_their_path(micro_settings, tmp_path):
    settings = replace(micro_settings, lora_adapter=str(tmp_path / "no-adapter"))
    events = list(ask_stream(QUESTION, settings, ["lora", "prompt"]))
    errors = [event for event in events if isinstance(event, ErrorEvent)]
    assert [event.path for event in errors] == ["lora"]
    assert "adapter" in errors[0].message


def test_a_rag_answer_embeds_its_question_once(micro_settings, monkeypatch):
    """The search and the evidence ranking share one embedding of the question; the sentences come stored."""
    import fourpaths.retrieval as retrieval
    from fourpaths.workspace import Workspace

    workspace = Workspace(micro_settings)
    workspace.searcher()  # load the index first: building it embeds the corpus
    embedded: list[str] = []
    real = retrieval.embed_texts

    def counting(embedder, texts, *args, **kwargs):
        embedded.extend(texts)
        return real(embedder, texts, *args, **kwargs)

    monkeypatch.setattr(retrieval, "embed_texts", counting)
    question = "How many days of annual leave do employees get?"
    trace = ask(question, micro_settings, ["rag"], workspace=workspace)["rag"]
    assert not isinstance(trace, str), trace
    assert trace.facts["evidence_ranking"], "the evidence ranking ran"
    assert embedded == [question]
