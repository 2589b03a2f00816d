"""Quote-only decoding: the RAG answer may only continue a passage of its prompt."""

from __future__ import annotations

import re

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from conftest import settings_with
from fourpaths import prompts
from fourpaths.ask import ask
from fourpaths.errors import FourpathsError
from fourpaths.evidence import evidence_texts
from fourpaths.generation import Row, Sampling, stream_tokens
from fourpaths.models import load_plain
from fourpaths.quoting import QuoteDecoder, quote_constraint
from fourpaths.scoring import normalise

PASSAGES = [
    prompts.Passage(1, "docs/leave.md", "Leave Policy > Carry-over: You may carry over at most 5 days. "
                                        "Carried days expire on 31 March."),
    prompts.Passage(2, "docs/ferret.md", "Ferret AMR > Price: - List price: £38,500 per unit. The warranty "
                                         "runs for 2 years."),
]


QUESTION = "How many days carry over?"


def _prompt(tokenizer):
    return prompts.render(tokenizer, prompts.with_passages(QUESTION, PASSAGES))


def _positions_of(tokenizer, prompt: str, text: str) -> list[int]:
    """The prompt positions of `text` as it stands in the passages."""
    offsets = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    at = prompt.index(text, prompt.index("Passages:"))
    return [position for position, (start, end) in enumerate(offsets) if start < at + len(text) and end > at]


def _ids_of(tokenizer, prompt: str, ids: list[int], text: str) -> list[int]:
    return [ids[position] for position in _positions_of(tokenizer, prompt, text)]


def _constrained(tokenizer, question: str, passages: list[prompts.Passage], min_sentences: int = 1):
    """The RAG prompt over `passages`, its ids, and a new constraint for them."""
    prompt, ids = prompts.render(tokenizer, prompts.with_passages(question, passages))
    return prompt, ids, quote_constraint(tokenizer, prompt, ids, passages, min_sentences)


@pytest.fixture
def fresh(micro_models):
    """The micro base's tokenizer, the prompt over PASSAGES, its ids, and a new constraint for them."""
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    return (tokenizer, *_constrained(tokenizer, QUESTION, PASSAGES))


def _quote_of(answer: str) -> str:
    """The answer without the citation the model may write before its quote."""
    return re.sub(r"^\[\d+\]\s*", "", answer)


def test_a_quote_starts_at_a_sentence_and_may_stop_only_where_one_ends(fresh):
    tokenizer, prompt, ids, constraint = fresh
    sentence = _ids_of(tokenizer, prompt, ids, "You may carry over at most 5 days.")
    assert sentence[0] in constraint.allowed_tokens()
    assert not constraint.may_stop()
    assert _positions_of(tokenizer, prompt, "Leave Policy")[0] not in constraint.starts  # no quoting the heading
    assert _positions_of(tokenizer, prompt, "You may")[0] in constraint.starts
    for token in sentence[:-1]:
        constraint.advance(token)
        assert not constraint.may_stop()
    constraint.advance(sentence[-1])
    assert constraint.may_stop()
    assert constraint.quoted_passages() == [1]


def test_a_list_item_is_quoted_from_its_words_and_the_last_passage_ends_the_quote(fresh):
    tokenizer, prompt, ids, constraint = fresh
    item = _ids_of(tokenizer, prompt, ids, "List price: £38,500 per unit. The warranty runs for 2 years.")
    assert item[0] in constraint.allowed_tokens()
    for token in item:
        constraint.advance(token)
    assert constraint.quoted_passages() == [2]
    assert constraint.may_stop() and not constraint.allowed_tokens()  # the passage ended: only stopping is left


def test_a_citation_first_limits_the_quote_to_the_passage_it_names(fresh):
    tokenizer, prompt, ids, constraint = fresh
    for token in tokenizer("[2]", add_special_tokens=False)["input_ids"]:
        assert token in constraint.allowed_tokens() and not constraint.may_stop()
        constraint.advance(token)
    first_of_passage_2 = _ids_of(tokenizer, prompt, ids, "List price")[0]
    first_of_passage_1 = _ids_of(tokenizer, prompt, ids, "You may")[0]
    assert first_of_passage_2 in constraint.allowed_tokens()
    assert first_of_passage_1 not in constraint.allowed_tokens() or first_of_passage_1 == first_of_passage_2
    constraint.advance(first_of_passage_2)
    assert constraint.quoted_passages() == [2]


def test_a_quote_holds_its_least_number_of_sentences_or_runs_to_its_passages_end(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    prompt, ids, constraint = _constrained(tokenizer, QUESTION, PASSAGES, min_sentences=2)
    first = _ids_of(tokenizer, prompt, ids, "You may carry over at most 5 days.")
    for token in first:
        constraint.advance(token)
    assert not constraint.may_stop()  # one sentence of two
    for token in _ids_of(tokenizer, prompt, ids, " Carried days expire on 31 March.")[:-1]:
        constraint.advance(token)
        assert not constraint.may_stop()
    constraint.advance(_ids_of(tokenizer, prompt, ids, "31 March.")[-1])
    assert constraint.may_stop()
    _, _, last_only = _constrained(tokenizer, QUESTION, PASSAGES, min_sentences=2)
    for token in _ids_of(tokenizer, prompt, ids, "The warranty runs for 2 years."):
        last_only.advance(token)
    assert last_only.may_stop()  # the passage's last sentence: its end is as far as the quote can go


def test_the_constraints_sentences_read_as_the_search_index_stores_them(fresh):
    constraint = fresh[-1]
    for passage in PASSAGES:  # the index embeds evidence_texts; the RAG path looks each sentence up by it
        readings = [sentence.reading for sentence in constraint.sentences if sentence.passage == passage.number]
        assert readings == evidence_texts(passage.text)


def test_kept_starts_limit_both_the_quote_and_the_citations(fresh):
    tokenizer, prompt, ids, constraint = fresh
    warranty = _positions_of(tokenizer, prompt, "The warranty")[0]
    constraint.keep_starts({warranty})
    assert constraint.starts == {warranty}
    allowed = constraint.allowed_tokens()
    assert ids[warranty] in allowed
    assert _ids_of(tokenizer, prompt, ids, "You may")[0] not in allowed
    assert set(constraint.citations) == {2}  # citing [1] would leave no sentence to quote
    assert [sentence.text for sentence in constraint.sentences if sentence.passage == 1] == [
        "You may carry over at most 5 days.", "Carried days expire on 31 March."]


def test_an_answer_that_must_cite_first_may_only_open_with_a_citation(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    prompt, ids = prompts.render(tokenizer, prompts.with_passages(QUESTION, PASSAGES))
    constraint = quote_constraint(tokenizer, prompt, ids, PASSAGES, cite_first=True)
    citations = {number: tokenizer(f"[{number}]", add_special_tokens=False)["input_ids"] for number in (1, 2)}
    assert constraint.allowed_tokens() == {ids[0] for ids in citations.values()}
    for token in citations[1]:
        constraint.advance(token)
    assert constraint.cited == 1
    assert _ids_of(tokenizer, prompt, ids, "You may")[0] in constraint.allowed_tokens()


def test_a_quote_may_not_stop_on_a_colon_or_a_bare_list_number(micro_models):
    """"The order is: 1." would end on the words that announce the answer, before the answer itself."""
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    listed = [prompts.Passage(1, "docs/upgrade.md", "Upgrade > Order: The order is: 1. Back up the database. "
                                                    "2. Stop the service.")]
    prompt, ids, constraint = _constrained(tokenizer, "What comes first?", listed)
    quoted: list[int] = []
    for token in _ids_of(tokenizer, prompt, ids, "The order is: 1. Back up the database. 2. Stop the service."):
        constraint.advance(token)
        quoted.append(token)
        if constraint.may_stop():
            break
    assert normalise(tokenizer.decode(quoted)) == normalise("The order is: 1. Back up the database.")


def test_a_title_with_a_colon_of_its_own_is_still_no_place_to_start(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    titled = [prompts.Passage(1, "docs/remote.md", "Remote Revision: Two Home Days > Summary: Staff work two "
                                                   "days at home.")]
    prompt, ids, constraint = _constrained(tokenizer, "How many home days?", titled)
    assert not set(_positions_of(tokenizer, prompt, "Remote Revision: Two Home Days > Summary")) & constraint.starts
    assert _positions_of(tokenizer, prompt, "Staff work")[0] in constraint.starts


def _uncased_wordpiece(texts: list[str]) -> PreTrainedTokenizerFast:
    """A lowercasing WordPiece tokenizer like the encoder base's, trained here on `texts`."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[UNK]", "[SEP]"]))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", eos_token="[SEP]")


def test_a_quote_is_shown_in_the_documents_own_characters_when_the_tokenizer_lowercases():
    text = "Leave > Carry-over: You may carry over at most 5 days. The cap is £1,200 a year."
    passages = [prompts.Passage(1, "docs/leave.md", text)]
    tokenizer = _uncased_wordpiece([text, "Question: Passages: [1] (docs/leave.md) How many days?"])
    prompt = f"Passages:\n[1] (docs/leave.md) {text}"
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    constraint = quote_constraint(tokenizer, prompt, ids, passages)
    decoder = QuoteDecoder(constraint)
    streamed = ""
    quoted = _ids_of(tokenizer, prompt, ids, "The cap is £1,200 a year.")
    for token in tokenizer("[1]", add_special_tokens=False)["input_ids"] + quoted:
        constraint.advance(token)
        streamed += decoder.add(token)
    assert tokenizer.decode(quoted) != "The cap is £1,200 a year."  # lowercase, "£1, 200"
    assert decoder.text == streamed == "[1] The cap is £1,200 a year."


def test_passages_missing_from_the_prompt_are_refused(micro_models):
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    prompt, ids = _prompt(tokenizer)
    stranger = prompts.Passage(3, "docs/other.md", "Text the prompt never showed.")
    with pytest.raises(FourpathsError, match="not in the prompt"):
        quote_constraint(tokenizer, prompt, ids, [stranger])


@pytest.mark.parametrize("temperature", [0.0, 1.5])
def test_constrained_generation_says_only_what_a_passage_says(micro_models, temperature):
    base = load_plain(str(micro_models["base"]))
    prompt, ids = _prompt(base.tokenizer)
    constraint = quote_constraint(base.tokenizer, prompt, ids, PASSAGES)
    steps = stream_tokens(base.model, [Row(ids, constraint=constraint)], Sampling(24, temperature, seed=3),
                          {base.tokenizer.eos_token_id})
    answer = base.tokenizer.decode([step.token_id for step in steps if step.token_id is not None]).strip()
    assert _quote_of(answer) and normalise(_quote_of(answer)) in normalise(" ".join(p.text for p in PASSAGES))


@pytest.mark.parametrize("temperature", [0.0, 1.5])
def test_forced_tokens_in_one_pass_give_the_answer_token_for_token(micro_models, temperature):
    base = load_plain(str(micro_models["base"]))
    prompt, ids = _prompt(base.tokenizer)
    answers = {}
    for fast_forward in (False, True):
        constraint = quote_constraint(base.tokenizer, prompt, ids, PASSAGES, min_sentences=2)
        steps = list(stream_tokens(base.model, [Row(ids, constraint=constraint)], Sampling(40, temperature, seed=5),
                                   {base.tokenizer.eos_token_id}, fast_forward=fast_forward))
        answers[fast_forward] = [step.token_id for step in steps]
        arrivals = [step.at for step in steps if step.token_id is not None]
        assert (len(set(arrivals)) < len(arrivals)) == fast_forward  # forced runs arrive together
    if temperature == 0.0:  # a sampled run draws fewer random numbers when forced tokens skip the draw
        assert answers[True] == answers[False]


def test_the_rag_path_quotes_by_default_and_writes_freely_when_asked(micro_settings, warm_index):
    quoted = ask("How many days of annual leave do employees get?", micro_settings, ["rag"])["rag"]
    assert quoted.facts["answer"].startswith("quote-only")
    assert _quote_of(quoted.text) in quoted.prompt  # the document's own characters, as the prompt shows them
    assert quoted.facts["quoted_from_passages"]
    free = ask("How many days of annual leave do employees get?", settings_with(micro_settings, rag_answer="free"),
               ["rag"])["rag"]
    assert free.facts["answer"].startswith("free") and "quoted_from_passages" not in free.facts


def test_the_rag_quote_starts_at_the_best_evidence_sentence(micro_settings, warm_index):
    question = "How many days of annual leave do employees get?"
    one = ask(question, settings_with(micro_settings, evidence_sentences=1), ["rag"])["rag"]
    best = one.facts["evidence_ranking"][0]
    sentence = best["sentence"]
    assert one.text.startswith(f"[{best['passage']}] ")  # a RAG answer opens with its citation
    quote = _quote_of(one.text)  # the micro base may run out of new tokens inside the sentence
    assert quote and (quote.startswith(sentence) or sentence.startswith(quote))
    assert one.facts["quoted_from_passages"] == [best["passage"]]
    open_choice = ask(question, settings_with(micro_settings, evidence_sentences=0), ["rag"])["rag"]
    assert "evidence_ranking" not in open_choice.facts and _quote_of(open_choice.text) in open_choice.prompt
