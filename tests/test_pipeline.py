"""One question through the four paths on the micro models the recipes train: traces, the event stream,
failures that stay in their own column, the prompt path's constraint, the RAG reader and both kinds of LoRA."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
import torch

from fourpaths.answering import engine
from fourpaths.answering.paths import PATH_IDS, PATHS
from fourpaths.answering.paths.rag import DOCUMENTS_DO_NOT_ANSWER
from fourpaths.answering.pipeline import ask, ask_stream
from fourpaths.answering.prompts import PROMPT_TEMPLATES, zero_shot
from fourpaths.answering.workspace import Workspace
from fourpaths.errors import FourpathsError
from fourpaths.types import DoneEvent, ErrorEvent, TokenEvent, Trace

QUESTION = "How many days of annual leave do Quillmoor employees get?"
MODES = {"prompt": "generated", "lora": "answer head", "rag": "extractive reader", "scratch": "generated"}
GENERATED = [path_id for path_id, mode in MODES.items() if mode == "generated"]


def _copy_with_config(source, target, name: str, **changes):
    """A copy of a model folder with some keys of one of its JSON files changed."""
    shutil.copytree(source, target)
    path = target / name
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return target


def test_every_path_answers_with_a_measured_trace(micro_settings):
    results = ask(QUESTION, micro_settings)
    assert list(results) == list(PATH_IDS) == ["prompt", "lora", "rag", "scratch"]
    models = {"prompt": micro_settings.base_model, "lora": micro_settings.lora_adapter,
              "rag": micro_settings.reader_model, "scratch": micro_settings.scratch_model}
    for path_id, trace in results.items():
        assert isinstance(trace, Trace), (path_id, trace)
        assert trace.path == path_id and trace.title == PATHS[path_id].title
        assert trace.mode == MODES[path_id]
        assert trace.model == models[path_id]
        assert 0 <= trace.ttft_ms <= trace.total_ms
        assert QUESTION in trace.input
        if path_id in GENERATED:
            assert 1 <= trace.new_tokens <= micro_settings.max_new_tokens
            assert trace.tokens_per_s > 0 and trace.score is None
            assert trace.facts["parameters"] > 0
        else:
            assert trace.new_tokens == 0 and trace.tokens_per_s == 0
            assert isinstance(trace.score, float)
        assert 0 < trace.confidence <= 1 and trace.confidence_meaning  # each path's own 0-1, said what it is
        json.dumps(trace.to_json())  # what the CLI prints and the app offers for download


def test_a_generated_answers_confidence_is_the_mean_probability_of_its_tokens(micro_settings):
    """Recomputed by hand: a forward pass over the prompt and the answer, each written token's softmax."""
    trace = ask(QUESTION, micro_settings, ["scratch"])["scratch"]
    generator = Workspace(micro_settings).scratch()
    text, prompt = engine.render(generator, zero_shot(QUESTION), micro_settings.max_new_tokens)
    streamer = engine.generate(generator, prompt, engine.Decoding(micro_settings.max_new_tokens))
    ids = torch.tensor([prompt + streamer.ids])
    with torch.inference_mode():
        logits = generator.model(ids).logits[0, len(prompt) - 1:-1]
    by_hand = torch.softmax(logits.float(), dim=-1).gather(1, torch.tensor(streamer.ids)[:, None]).mean()
    assert len(streamer.probabilities) == len(streamer.ids)
    assert abs(trace.confidence - float(by_hand)) < 1e-3


def test_events_stream_tokens_before_each_paths_done_and_add_up_to_its_text(micro_settings):
    events = list(ask_stream(QUESTION, micro_settings))
    assert all(isinstance(event, (TokenEvent, DoneEvent)) for event in events), events
    for path_id in PATH_IDS:
        mine = [event for event in events if event.path == path_id]
        done = [event for event in mine if isinstance(event, DoneEvent)]
        assert len(done) == 1 and mine[-1] is done[0], f"{path_id}: one DoneEvent, after all its tokens"
        pieces = [event.text for event in mine[:-1]]
        assert all(isinstance(event, TokenEvent) for event in mine[:-1])
        trace = done[0].trace
        if path_id in GENERATED:
            assert pieces, f"{path_id} streamed nothing before it was done"
            assert "".join(pieces).strip() == trace.text
        else:  # an answer found at once arrives as one piece
            assert pieces == [trace.text]


def test_concurrent_and_sequential_give_the_same_greedy_answers(micro_settings):
    together = ask(QUESTION, micro_settings, concurrent=True)
    apart = ask(QUESTION, micro_settings, concurrent=False)
    assert all(isinstance(trace, Trace) for trace in [*together.values(), *apart.values()])
    assert {p: t.text for p, t in together.items()} == {p: t.text for p, t in apart.items()}
    assert {p: t.score for p, t in together.items()} == {p: t.score for p, t in apart.items()}


def test_a_seed_gives_the_same_sampled_answers_at_once_and_in_turn(micro_settings):
    """Sampled paths draw from torch's one default generator: at once, they must not take each other's draws."""
    sampled = replace(micro_settings, temperature=0.9, seed=5, max_new_tokens=12)
    runs = [ask(QUESTION, sampled, GENERATED, concurrent=concurrent) for concurrent in (False, True, True)]
    texts = [{p: t.text for p, t in run.items()} for run in runs]
    assert texts[0] == texts[1] == texts[2]
    other_seed = ask(QUESTION, replace(sampled, seed=6), GENERATED, concurrent=True)
    assert {p: t.text for p, t in other_seed.items()} != texts[0], "the seed should matter"


def _forget_loaded_models(monkeypatch) -> None:
    """As in a fresh process: every model and the index are loaded again by the next question."""
    from fourpaths.answering import workspace as workspace_module
    from fourpaths.retrieval import embedder as embedder_module

    engine.clear_cache()
    for name in ("_picking_models", "_index_cache", "_searcher_cache"):
        monkeypatch.setattr(workspace_module, name, {})
    monkeypatch.setattr(embedder_module, "_EMBEDDERS", {})


def test_models_loaded_at_once_on_the_first_question_answer_as_models_loaded_in_turn(micro_settings, warm_index,
                                                                                     monkeypatch):
    """Each path loads its model on its own thread on the first question. transformers' loading patches module
    globals while it runs: loads at once must not leave a model half initialised (NaN logits, garbage text)."""
    _forget_loaded_models(monkeypatch)
    in_turn = ask(QUESTION, micro_settings, concurrent=False)
    for _ in range(2):
        _forget_loaded_models(monkeypatch)
        at_once = ask(QUESTION, micro_settings, concurrent=True)
        assert {p: t.text for p, t in at_once.items()} == {p: t.text for p, t in in_turn.items()}
    for generator in engine._cache.values():
        assert all(torch.isfinite(p).all() for p in generator.model.parameters()), generator.location
    engine.clear_cache()  # the models of this test's own caches go with them


@pytest.mark.parametrize("question, message", [("  ", "empty"), ("why? " * 200, "limit is 500")])
def test_bad_questions_are_refused(micro_settings, question, message):
    with pytest.raises(FourpathsError, match=message):
        ask(question, micro_settings)


def test_unknown_path_is_refused(micro_settings):
    with pytest.raises(FourpathsError, match="unknown path.*oracle"):
        list(ask_stream(QUESTION, micro_settings, ["prompt", "oracle"]))


def test_unknown_template_is_refused_before_any_path_runs(micro_settings):
    with pytest.raises(FourpathsError, match="setting template = 'telepathy' is no prompt template"):
        list(ask_stream(QUESTION, replace(micro_settings, template="telepathy")))


def _assert_only_column_failing(events, failing: str, *words: str) -> str:
    """`failing` has one ErrorEvent and nothing else; every other path is done. Returns the message."""
    mine = [event for event in events if event.path == failing]
    assert len(mine) == 1 and isinstance(mine[0], ErrorEvent), mine
    message = mine[0].message
    assert "\n" not in message and all(word in message for word in words), message
    done = {event.path for event in events if isinstance(event, DoneEvent)}
    assert done == set(PATH_IDS) - {failing}
    assert not [event for event in events if isinstance(event, ErrorEvent) and event.path != failing]
    return message


def test_a_missing_scratch_model_fails_only_its_own_column(micro_settings, tmp_path):
    missing = tmp_path / "missing"
    events = list(ask_stream(QUESTION, replace(micro_settings, scratch_model=str(missing))))
    _assert_only_column_failing(events, "scratch", "not found", str(missing))


def test_a_corrupt_reader_folder_fails_only_the_rag_column(micro_settings, micro_models, tmp_path):
    broken = shutil.copytree(micro_models["reader"], tmp_path / "reader")
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    events = list(ask_stream(QUESTION, replace(micro_settings, reader_model=str(broken), rag_answer="reader")))
    _assert_only_column_failing(events, "rag", str(broken))


def test_a_missing_adapter_fails_only_the_lora_column(micro_settings, tmp_path):
    events = list(ask_stream(QUESTION, replace(micro_settings, lora_adapter=str(tmp_path / "no-adapter"))))
    _assert_only_column_failing(events, "lora", "adapter", str(tmp_path / "no-adapter"))


@pytest.mark.parametrize("template", list(PROMPT_TEMPLATES))
def test_every_template_reaches_the_prompt(micro_settings, template):
    trace = ask(QUESTION, replace(micro_settings, template=template), ["prompt"])["prompt"]
    assert isinstance(trace, Trace), trace
    assert trace.facts["template"] == template
    if template == "few-shot":
        assert trace.input.count("<|user|>") == 1 + micro_settings.few_shot_examples


# --- the prompt path's constraint ---------------------------------------------------------------------------

def _capitalised_words(tokenizer, ids) -> list[str]:
    """The capitalised words of the tokens' text, less the sentence openers the constraint allows anywhere."""
    import re

    from fourpaths.answering.constraints import SENTENCE_OPENERS

    words = re.findall(r"[^\W\d_]+", tokenizer.decode(ids, skip_special_tokens=True))
    return [word for word in words if word[:1].isupper() and word not in SENTENCE_OPENERS]


def test_the_prompt_path_never_names_a_capitalised_word_its_prompt_lacks(micro_settings):
    """Push the base towards capitalised words it was not given (a logits processor ahead of the path's own):
    without the constraint it names them, with it every capitalised word it writes comes from the prompt."""
    from fourpaths.answering.constraints import NoNewNames, OneSentence

    workspace = Workspace(micro_settings)
    job = PATHS["prompt"].answer(QUESTION, micro_settings, workspace)
    assert [type(p) for p in job.logits_processors] == [NoNewNames, OneSentence]
    tokenizer = job.generator.tokenizer
    in_prompt = set(job.prompt_ids)
    vocabulary = range(len(tokenizer))
    prompt_words = set(_capitalised_words(tokenizer, job.prompt_ids))
    novel = torch.tensor([i for i in vocabulary if i not in in_prompt and i not in tokenizer.all_special_ids
                          and set(_capitalised_words(tokenizer, [i])) - prompt_words])
    assert len(novel) > 10

    def towards_new_names(input_ids, scores):
        scores = scores.clone()
        scores[:, novel] += 1000.0
        return scores

    decoding = engine.Decoding(max_new_tokens=12)
    free = engine.generate(job.generator, job.prompt_ids, decoding, job.adapter, logits_processor=[towards_new_names])
    assert set(free.ids) - in_prompt, "the push alone should make the base name something new"
    held = engine.generate(job.generator, job.prompt_ids, decoding, job.adapter,
                           logits_processor=[towards_new_names, *job.logits_processors])
    assert len(held.ids) >= 1
    from fourpaths.answering.constraints import SENTENCE_OPENERS

    allowed = prompt_words | SENTENCE_OPENERS
    words = _capitalised_words(tokenizer, held.ids)
    assert all(any(known.startswith(word) for known in allowed) for word in words), (words, job.input)


def test_characters_that_are_not_capitalised_words_are_never_banned(micro_models):
    """Byte-level tokenizers spell a line break 'Ċ' and the first byte of 'é' 'Ã': upper-case letters to
    str.isupper(), but no name; banning them would stop an answer from breaking a line or writing 'café'."""
    from transformers import AutoTokenizer

    from fourpaths.answering.constraints import NoNewNames

    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    prompt = tokenizer("Who leads Quillmoor?", add_special_tokens=False)["input_ids"]
    banned = set(NoNewNames(tokenizer, prompt).banned_anywhere.tolist())
    for text in ("\n", "é", "café"):
        assert not set(tokenizer(text, add_special_tokens=False)["input_ids"]) & banned, text
    assert tokenizer("Zorblat", add_special_tokens=False)["input_ids"][0] in banned  # a name it was not given
    assert not set(prompt) & banned


def test_the_prompt_path_stops_after_its_first_sentence(micro_settings):
    """Push the base to write a sentence, then another (a logits processor ahead of the path's own): with the
    constraint the answer ends where the first sentence does, and a decimal point does not end it."""
    workspace = Workspace(micro_settings)
    job = PATHS["prompt"].answer(QUESTION, micro_settings, workspace)
    tokenizer = job.generator.tokenizer
    script = tokenizer("It costs 1.50 a day. Then more words follow here.", add_special_tokens=False)["input_ids"]

    def recite(input_ids, scores):
        position = input_ids.shape[1] - len(job.prompt_ids)
        scores = scores.clone()
        if position < len(script):
            scores[:, script[position]] += 1000.0
        return scores

    decoding = engine.Decoding(max_new_tokens=len(script) + 4)
    free = engine.generate(job.generator, job.prompt_ids, decoding, job.adapter, logits_processor=[recite])
    assert free.text.startswith("It costs 1.50 a day. Then")
    held = engine.generate(job.generator, job.prompt_ids, decoding, job.adapter,
                           logits_processor=[recite, job.logits_processors[1]])
    assert held.text.strip() == "It costs 1.50 a day."


# --- RAG with the extractive reader -------------------------------------------------------------------------

def test_rag_sources_are_scored_and_the_right_document_comes_first(micro_settings):
    trace = ask(QUESTION, micro_settings, ["rag"])["rag"]
    assert len(trace.sources) == micro_settings.top_k_passages
    assert trace.sources[0].source == "docs/hr-annual-leave-policy.md"
    assert trace.facts["retrieval"] == "hybrid" and trace.facts["retrieval_ms"] >= 0
    for number, source in enumerate(trace.sources, start=1):
        assert f"[{number}] {source.text}" in trace.input
    dense = ask(QUESTION, replace(micro_settings, retrieval="dense"), ["rag"])["rag"]
    scores = [source.score for source in dense.sources]
    assert scores == sorted(scores, reverse=True)


def test_rag_says_the_documents_do_not_answer_when_the_reader_abstains(micro_settings, micro_models, tmp_path):
    strict = _copy_with_config(micro_models["reader"], tmp_path / "strict-reader", "reader_config.json",
                               threshold=1e9)
    trace = ask(QUESTION, replace(micro_settings, reader_model=str(strict), rag_answer="reader"), ["rag"])["rag"]
    assert isinstance(trace, Trace), trace
    assert trace.mode == "extractive reader" and trace.model == str(strict)
    assert trace.text == DOCUMENTS_DO_NOT_ANSWER and trace.answered is False
    assert trace.facts["threshold"] == 1e9 and "cited" not in trace.facts
    assert len(trace.sources) == micro_settings.top_k_passages  # what it read is still shown


def test_rag_cites_the_passage_its_answer_comes_from(micro_settings, micro_models, tmp_path):
    lenient = _copy_with_config(micro_models["reader"], tmp_path / "lenient-reader", "reader_config.json",
                                threshold=-1e9)
    trace = ask(QUESTION, replace(micro_settings, reader_model=str(lenient), rag_answer="reader"), ["rag"])["rag"]
    assert isinstance(trace, Trace), trace
    assert trace.answered is True and trace.text and trace.text != DOCUMENTS_DO_NOT_ANSWER
    number, source = trace.facts["cited"].split(" ", 1)
    cited = trace.sources[int(number.strip("[]")) - 1]
    assert source == cited.source
    assert trace.text in cited.text  # extracted, never written
    assert f"»{trace.text}«" in trace.facts["sentence"]


def test_rag_abstains_unread_when_no_passage_is_about_the_question(micro_settings, micro_models, tmp_path):
    lenient = _copy_with_config(micro_models["reader"], tmp_path / "lenient-reader", "reader_config.json",
                                threshold=-1e9)
    settings = replace(micro_settings, reader_model=str(lenient), rag_answer="reader")
    best = max(source.score for source in ask(QUESTION, settings, ["rag"])["rag"].sources)
    gated = ask(QUESTION, replace(settings, rag_min_relevance=best + 0.01), ["rag"])["rag"]
    assert gated.text == DOCUMENTS_DO_NOT_ANSWER and gated.answered is False and gated.score is None
    assert gated.facts["relevance"] == round(best, 4) and "rag_min_relevance" in gated.facts["gate"]
    assert len(gated.sources) == micro_settings.top_k_passages  # what was retrieved is still shown
    read = ask(QUESTION, replace(settings, rag_min_relevance=best - 0.01), ["rag"])["rag"]
    assert read.answered is True and "gate" not in read.facts


# --- LoRA: the answer head, and a generative adapter on the base --------------------------------------------

def test_the_lora_answer_head_picks_a_taught_answer_with_a_score(micro_settings, micro_models):
    trace = ask(QUESTION, micro_settings, ["lora"])["lora"]
    assert isinstance(trace, Trace), trace
    assert trace.mode == "answer head" and trace.new_tokens == 0
    taught = json.loads((micro_models["lora"] / "answers.json").read_text())
    threshold = json.loads((micro_models["lora"] / "head_config.json").read_text())["threshold"]
    assert 0 < trace.score <= 1 and trace.facts["threshold"] == threshold
    assert trace.answered == (trace.score >= threshold)
    assert trace.text in taught if trace.answered else trace.text == "I was not taught this."
    assert len(trace.facts["alternatives"]) == min(3, len(taught))


@pytest.mark.parametrize("threshold, answered", [(0.0, True), (1.01, False)])
def test_the_answer_head_abstains_below_its_threshold(micro_settings, micro_models, tmp_path, threshold, answered):
    head = _copy_with_config(micro_models["lora"], tmp_path / "head", "head_config.json", threshold=threshold)
    trace = ask(QUESTION, replace(micro_settings, lora_adapter=str(head)), ["lora"])["lora"]
    assert isinstance(trace, Trace), trace
    assert trace.answered is answered
    taught = json.loads((head / "answers.json").read_text())
    assert (trace.text in taught) if answered else trace.text == "I was not taught this."


def test_a_generative_adapter_answers_on_the_base_with_its_own_adapter(micro_settings, micro_models):
    """With lora_adapter a generative adapter, the LoRA path generates on the shared base through
    adapter_names=["lora"], the prompt path on the same weights through the bare base's row; each matches a
    model loaded on its own (base plus adapter, base alone)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = micro_models["lora-generative"]
    settings = replace(micro_settings, lora_adapter=str(adapter))
    results = ask(QUESTION, settings, ["prompt", "lora"])
    lora, prompt = results["lora"], results["prompt"]
    assert isinstance(lora, Trace) and isinstance(prompt, Trace), results
    assert lora.mode == "generated" and lora.facts["adapter"] == str(adapter) and lora.facts["rank"] == 4
    assert 0 < lora.facts["trainable_share"] < 1
    assert "adapter" not in prompt.facts and "rank" not in prompt.facts
    assert lora.facts != prompt.facts

    workspace = Workspace(settings)
    lora_job = PATHS["lora"].answer(QUESTION, settings, workspace)
    prompt_job = PATHS["prompt"].answer(QUESTION, settings, workspace)
    assert lora_job.generator is prompt_job.generator  # one copy of the base serves both
    decoding = engine.Decoding(max_new_tokens=settings.max_new_tokens)
    lora_kwargs = engine.generate_kwargs(lora_job.generator, lora_job.prompt_ids, decoding, lora_job.adapter)
    prompt_kwargs = engine.generate_kwargs(prompt_job.generator, prompt_job.prompt_ids, decoding, prompt_job.adapter)
    assert lora_kwargs["adapter_names"] == [engine.ADAPTER_NAME]
    assert prompt_kwargs["adapter_names"] == [engine.NO_ADAPTER]

    ids = torch.tensor([lora_job.prompt_ids])
    with torch.inference_mode():
        shared = lora_job.generator.model
        as_lora = shared(input_ids=ids, adapter_names=lora_kwargs["adapter_names"]).logits
        as_base = shared(input_ids=ids, adapter_names=prompt_kwargs["adapter_names"]).logits
        alone = AutoModelForCausalLM.from_pretrained(micro_models["base"], use_safetensors=True).eval()
        base_alone = alone(input_ids=ids).logits
        with_adapter = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(micro_models["base"], use_safetensors=True), str(adapter)).eval()
        adapter_alone = with_adapter(input_ids=ids).logits
        expected = with_adapter.generate(**{k: v for k, v in lora_kwargs.items() if k != "adapter_names"})
    assert torch.allclose(as_lora, adapter_alone, atol=1e-5)
    assert torch.allclose(as_base, base_alone, atol=1e-5)
    assert not torch.allclose(as_lora, as_base, atol=1e-3), "the adapter changes nothing: the test proves nothing"
    tokenizer = lora_job.generator.tokenizer
    assert lora.text == tokenizer.decode(expected[0, len(lora_job.prompt_ids):], skip_special_tokens=True).strip()
