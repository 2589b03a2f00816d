"""Fresh knowledge: documents added to one session's search overlay, pairs proposed from them, an answer head taught
them within a budget; the package on the micro models, then the page through AppTest."""

from __future__ import annotations

import codecs
import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fourpaths.answering.answer_head import AnswerHead
from fourpaths.answering.pipeline import ask
from fourpaths.answering.workspace import Workspace
from fourpaths.config import PROJECT_ROOT
from fourpaths.errors import FourpathsError
from fourpaths.fresh.jobs import TeachJob
from fourpaths.fresh.overlay import Overlay, add_document_file
from fourpaths.fresh.proposals import Pair, propose_pairs
from fourpaths.fresh.teaching import Hooks, TeachingCancelled
from fourpaths.fresh.uploads import MAX_DOCUMENT_BYTES, check_text, decode_text

DATA = Path(__file__).parent / "data" / "fresh"
DOCUMENTS = sorted(DATA.glob("*.md"))
DOCUMENTS = [path for path in DOCUMENTS if path.name != "README.md"]
QUESTIONS = [json.loads(line) for line in (DATA / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
FERRY = DATA / "brindlewick-ferry-timetable.md"
FERRY_QUESTION = "How much is an adult single fare on the Brindlewick ferry?"
TIMEOUT = 300


def tree_digest(*folders: Path) -> dict[str, str]:
    """sha256 of every file under the folders, by path."""
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted(Path(folder).rglob("*")) if path.is_file()}


@pytest.fixture
def overlay(micro_settings, warm_index) -> Overlay:
    made = Overlay(micro_settings)
    yield made
    made.reset()


def add_all(overlay: Overlay) -> None:
    for path in DOCUMENTS:
        overlay.add_text(path.name, path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# The overlay


def test_added_documents_are_searched_and_removed_and_nothing_shipped_changes(overlay, micro_settings, micro_models):
    shipped = [Path(micro_settings.index_dir), Path(micro_settings.corpus_root), micro_models["lora"],
               micro_models["reader"]]
    before = tree_digest(*shipped)
    steps = []
    added = overlay.add_text(FERRY.name, FERRY.read_text(encoding="utf-8"), lambda done, total: steps.append(done))
    assert added.source == "added/brindlewick-ferry-timetable.md" and len(added.chunks) >= 2
    assert steps[0] == 0 and steps[-1] == len(added.chunks)
    workspace = Workspace(micro_settings, overlay=overlay)
    hits = workspace.searcher().search(FERRY_QUESTION, 5)
    assert hits[0].source == added.source
    assert any(hit.source.startswith("docs/") for hit in workspace.searcher().search("annual leave days", 5))
    dense = Workspace(replace(micro_settings, retrieval="dense"), overlay=overlay).searcher()
    assert dense.search(FERRY_QUESTION, 5)[0].source == added.source

    overlay.remove(added.source)
    assert len(overlay) == 0
    assert all(not hit.source.startswith("added/") for hit in workspace.searcher().search(FERRY_QUESTION, 5))
    assert tree_digest(*shipped) == before


def test_retrieval_finds_the_added_document_for_its_questions(overlay, micro_settings):
    add_all(overlay)
    searcher = Workspace(micro_settings, overlay=overlay).searcher()
    found = [item["source"] in {hit.source for hit in searcher.search(item["question"], 5)} for item in QUESTIONS]
    assert sum(found) / len(found) >= 0.9, [q["question"] for q, hit in zip(QUESTIONS, found) if not hit]


def test_the_rag_path_cites_the_added_document(overlay, micro_settings):
    overlay.add_text(FERRY.name, FERRY.read_text(encoding="utf-8"))
    trace = ask(FERRY_QUESTION, micro_settings, ["rag"], workspace=Workspace(micro_settings, overlay=overlay))["rag"]
    assert not isinstance(trace, str), trace
    assert "added/brindlewick-ferry-timetable.md" in {source.source for source in trace.sources}


def test_one_overlay_never_sees_another_ones_documents(micro_settings, warm_index):
    first, second = Overlay(micro_settings), Overlay(micro_settings)
    first.add_text(FERRY.name, FERRY.read_text(encoding="utf-8"))
    for workspace in (Workspace(micro_settings, overlay=second), Workspace(micro_settings)):
        assert all(not hit.source.startswith("added/") for hit in workspace.searcher().search(FERRY_QUESTION, 8))
    assert len(second) == 0 and len(first) == 1


BAD_FILES = [
    ("empty.md", b"", "the file is empty"),
    ("blank.txt", b"  \n\n ", "the file is empty"),
    ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("latin1.txt", "Café prices: £3".encode("latin-1"), "not UTF-8 text"),
    ("big.md", b"word " * (MAX_DOCUMENT_BYTES // 5 + 1), "over the limit of 200,000 bytes"),
    ("report.pdf", b"%PDF-1.7 ...", "PDF files are not read"),
    ("notes.docx", b"PK\x03\x04", "unsupported file type '.docx'"),
    ("noextension", b"text", "unsupported file type '(no extension)'"),
]


BAD_FILES += [
    ("one-letter-lines.txt", b"a\n" * 100_000, "it makes 2,858 passages of 50 words; a document may make at most"),
    ("utf16-no-bom.txt", "Ferry fares".encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
    ("bad-utf16.txt", codecs.BOM_UTF16_LE + b"\x00\xd8", "not UTF-16 text"),
]


@pytest.mark.parametrize("encoding, bom", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                           ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_text_with_a_byte_order_mark_is_read_in_its_encoding(overlay, encoding, bom):
    text = FERRY.read_text(encoding="utf-8")
    added = overlay.add_bytes(f"ferry-{encoding}.md", bom + text.encode(encoding))
    assert added.document.text == text.replace("\r\n", "\n")


def test_add_document_names_a_folder_and_a_pipe_for_what_they_are(overlay, tmp_path):
    import os

    folder = tmp_path / "notes.md"
    folder.mkdir()
    with pytest.raises(FourpathsError, match="notes.md: a folder, not a file"):
        add_document_file(overlay, folder)
    pipe = tmp_path / "pipe.md"
    os.mkfifo(pipe)
    with pytest.raises(FourpathsError, match="pipe.md: not a regular file"):
        add_document_file(overlay, pipe)


@pytest.mark.parametrize("name, data, message", BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_a_bad_file_is_refused_with_its_reason_and_changes_nothing(overlay, name, data, message):
    overlay.add_text("kept.md", FERRY.read_text(encoding="utf-8"))
    with pytest.raises(FourpathsError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        overlay.add_bytes(name, data)
    assert "\n" not in str(error.value) and str(error.value).startswith(name)
    assert [item.source for item in overlay.documents()] == ["added/kept.md"]


def test_duplicates_names_and_pasted_text_are_checked(overlay):
    text = FERRY.read_text(encoding="utf-8")
    overlay.add_bytes("ferry.md", text.encode())
    with pytest.raises(FourpathsError, match="a duplicate of added/ferry.md, already added"):
        overlay.add_text("again.md", text.replace("\n", "\n\n"))  # the same words, other spacing
    with pytest.raises(FourpathsError, match="a document of that name is already added"):
        overlay.add_text("ferry.md", "Other words entirely about something else.")
    with pytest.raises(FourpathsError, match="the text is empty"):
        overlay.add_text("", "   ")
    with pytest.raises(FourpathsError, match="looks like a binary file"):
        check_text("x.md", "\x01\x02\x03 abc" * 10)
    pasted = overlay.add_text("", "A pasted note: the gate code is 4417.")
    assert pasted.source == "added/pasted-2.md"
    named = overlay.add_text("../../etc/Price list", "The price list: tea costs £2.")
    assert named.source == "added/Price list.md"
    assert decode_text("bom.txt", "\ufeffhello".encode("utf-8")) == "hello"


def test_add_document_file_reads_a_file_and_names_a_missing_one(overlay, tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("The boiler service is booked for 12 May.", encoding="utf-8")
    assert add_document_file(overlay, path).source == "added/note.txt"
    with pytest.raises(FourpathsError, match="missing.md: file not found"):
        add_document_file(overlay, tmp_path / "missing.md")


# ---------------------------------------------------------------------------
# Pairs


def test_pairs_are_proposed_from_the_sentences_and_their_answers_are_in_the_document(overlay):
    overlay.add_text(FERRY.name, FERRY.read_text(encoding="utf-8"))
    document = overlay.documents()[0].document
    pairs = propose_pairs(document, limit=20)
    assert len(pairs) >= 8
    assert all(p.question.endswith("?") and p.source == document.source for p in pairs)
    assert all(p.answer in document.text for p in pairs)
    assert len({p.answer for p in pairs}) == len(pairs)
    assert Pair("Bicycles travel for how much each way?", "£3", document.source) in pairs
    assert Pair("The crossing takes how many minutes in calm weather?", "55 minutes", document.source) in pairs
    checked = overlay.check_pairs(pairs)
    assert checked[1].sentence == "The crossing takes 55 minutes in calm weather."


BAD_PAIRS = [
    (Pair("How much is a return?", "£29", "added/brindlewick-ferry-timetable.md"),
     "pair 2: the answer '£29' is not in added/brindlewick-ferry-timetable.md"),
    (Pair(" ", "£3", "added/brindlewick-ferry-timetable.md"), "pair 2: the question is empty"),
    (Pair("How much?", "", "added/brindlewick-ferry-timetable.md"), "pair 2: the answer is empty"),
    (Pair("Bicycles travel for how much each way?", "£3", "added/brindlewick-ferry-timetable.md"),
     "pair 2: the question 'Bicycles travel for how much each way?' is asked twice"),
    (Pair("Who?", "Odile Marchetti", "added/other.md"), "added/other.md: no such added document"),
    (Pair("Who?", "Odile Marchetti", ""), "pair 2: say which added document holds the answer"),
]


@pytest.mark.parametrize("bad, message", BAD_PAIRS)
def test_a_bad_pair_is_refused_with_its_number(overlay, bad, message):
    overlay.add_text(FERRY.name, FERRY.read_text(encoding="utf-8"))
    good = Pair("Bicycles travel for how much each way?", "£3", "added/brindlewick-ferry-timetable.md")
    with pytest.raises(FourpathsError, match=message.replace("?", r"\?")):
        overlay.check_pairs([good, bad])
    with pytest.raises(FourpathsError, match="no question/answer pairs"):
        overlay.check_pairs([])


# ---------------------------------------------------------------------------
# Teaching


def test_an_adapter_is_taught_within_its_budget_and_answers_for_this_session_only(overlay, micro_settings,
                                                                                  micro_models):
    shipped_before = tree_digest(micro_models["lora"])
    overlay.add_text(FERRY.name, FERRY.read_text(encoding="utf-8"))
    pairs = propose_pairs(overlay.documents()[0].document, limit=6)
    losses = []
    started = time.perf_counter()
    phases = []
    report = overlay.teach(pairs, budget_s=3, hooks=Hooks(phase=phases.append,
                                                          step=lambda step, loss, _: losses.append((step, loss))))
    elapsed = time.perf_counter() - started
    assert report.steps >= 1 and [step for step, _ in losses] == list(range(1, report.steps + 1))
    assert phases == ["preparing", "training", "measuring"]
    assert report.train_seconds <= 3 + 2 and elapsed < 60  # the budget (a step slower than the last may pass it)
    assert report.prepare_seconds > 0 and report.measure_seconds > 0  # timed apart, not in the budget
    assert report.pairs == 6 and report.new_answers == 6 and report.examples == report.steps * 16
    assert 0 <= report.recall <= 1 and 0 <= report.reworded_accuracy <= 1
    location = Path(report.location)
    assert location.parent == overlay.folder() and overlay.adapter_location == str(location)
    assert (location / "adapter_model.safetensors").is_file()
    reloaded = AnswerHead.load(str(location))
    assert reloaded.answers[-6:] == [pair.answer for pair in pairs]

    taught = Workspace(micro_settings, overlay=overlay)
    assert taught.settings.lora_adapter == str(location) and taught.answer_head() is overlay.answer_head
    trace = ask(pairs[0].question, micro_settings, ["lora"], workspace=taught)["lora"]
    assert trace.model == str(location)
    assert Workspace(micro_settings).settings.lora_adapter == micro_settings.lora_adapter  # other sessions
    assert tree_digest(micro_models["lora"]) == shipped_before

    overlay.reset()
    assert not location.exists() and overlay.adapter_location is None and len(overlay) == 0


def test_cancelling_stops_teaching_and_keeps_the_adapter_in_use(overlay):
    overlay.add_text(FERRY.name, FERRY.read_text(encoding="utf-8"))
    pairs = propose_pairs(overlay.documents()[0].document, limit=4)
    steps = []
    with pytest.raises(TeachingCancelled, match="teaching cancelled at step 2; the previous adapter stays in use"):
        overlay.teach(pairs, budget_s=60, hooks=Hooks(step=lambda step, loss, _: steps.append(step),
                                                      cancelled=lambda: len(steps) >= 2))
    assert steps == [1, 2] and overlay.adapter_location is None
    assert not list(overlay.folder().glob("adapter-*"))

    first = overlay.teach(pairs, budget_s=60, max_steps=2)
    job = TeachJob(overlay, pairs, budget_s=60)
    while not job.status().losses and not job.done:
        time.sleep(0.05)
    job.cancel()
    job.join(60)
    assert job.done and job.report is None and "cancelled" in job.error and job.status().state == "cancelled"
    assert overlay.adapter_location == first.location and Path(first.location).is_dir()
    assert [p.name for p in overlay.folder().glob("adapter-*")] == [Path(first.location).name]


def test_teaching_refuses_an_adapter_that_is_not_an_answer_head(micro_settings, micro_models, warm_index):
    overlay = Overlay(replace(micro_settings, lora_adapter=str(micro_models["lora-generative"])))
    overlay.add_text(FERRY.name, FERRY.read_text(encoding="utf-8"))
    with pytest.raises(FourpathsError, match="not an answer-head adapter"):
        overlay.teach(propose_pairs(overlay.documents()[0].document, limit=2), budget_s=1)


# ---------------------------------------------------------------------------
# The page


@pytest.fixture
def page(micro_settings, warm_index, monkeypatch):
    """A function that opens pages/fresh.py in a new session (its own AppTest), settings as app.py sets them."""
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))  # ui/answers.py, as `streamlit run app.py` finds it
    opened = []

    def open_page() -> AppTest:
        at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "fresh.py"), default_timeout=TIMEOUT)
        at.session_state["settings"] = micro_settings
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        opened.append(at)
        return at

    yield open_page
    for at in opened:
        if "fresh_visitor" in at.session_state:
            at.session_state["fresh_visitor"].close()


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def paste(at: AppTest, name: str, text: str) -> AppTest:
    at.text_input(key="fresh_name").input(name)
    at.text_area(key="fresh_text").input(text)
    return click(at, "Add the text")


def ask_page(at: AppTest, question: str) -> AppTest:
    at.text_area(key="fresh_question").input(question)
    return click(at, "Ask")


def click(at: AppTest, label: str) -> AppTest:
    next(button for button in at.button if button.label == label).click()
    return run(at)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_the_page_adds_a_document_and_rag_cites_it(page):
    at = paste(page(), FERRY.name, FERRY.read_text(encoding="utf-8"))
    assert any("Added added/brindlewick" in text.replace("\\", "") for text in texts(at.success))
    assert any(text.startswith("added/brindlewick-ferry-timetable.md: ") for text in texts(at.text))
    at = ask_page(at, FERRY_QUESTION)
    assert any(caption.startswith("[") and "added/brindlewick-ferry-timetable.md" in caption.replace("\\", "")
               for caption in texts(at.caption)), "RAG's sources name the added document"
    assert len([c for c in at.caption if c.value.startswith("Answer by: ")]) >= 4  # the answers' timings
    at.button(key="remove-added/brindlewick-ferry-timetable.md").click()
    at = run(at)
    assert "Nothing added yet: RAG searches the shipped documents only." in texts(at.text)
    assert len(at.session_state["fresh_visitor"].overlay) == 0


def test_the_page_shows_every_bad_input(page):
    at = page()
    for name, data, message in BAD_FILES:
        at.file_uploader(key="fresh_upload").set_value((name, data, "application/octet-stream"))
        at = run(at)
        assert any(message in text.replace("\\", "") for text in texts(at.error)), (name, texts(at.error))
    at = paste(at, FERRY.name, FERRY.read_text(encoding="utf-8"))
    at = paste(at, "copy.md", FERRY.read_text(encoding="utf-8"))
    assert any("a duplicate of added/brindlewick-ferry-timetable.md" in text.replace("\\", "")
               for text in texts(at.error))
    at = paste(at, "empty.md", "  ")
    assert any("the text is empty" in text.replace("\\", "") for text in texts(at.error))

    at = click(at, "Propose pairs")
    editor = at.data_editor[0]
    assert len(editor.value) >= 5
    at.session_state["pairs-1"] = {"edited_rows": {0: {"answer": "£29"}}, "added_rows": [], "deleted_rows": []}
    at = click(at, "Teach")
    assert any("pair 1: the answer '£29' is not in added/brindlewick-ferry-timetable.md" in text.replace("\\", "")
               for text in texts(at.error)), texts(at.error)

    at.session_state["pairs-1"] = {"edited_rows": {}, "added_rows": [], "deleted_rows": []}
    at = click(at, "Teach")
    job = at.session_state["fresh_visitor"].job
    at.button(key="fresh_cancel").click()
    at = run(at)
    job.join(120)
    at = run(at)
    assert any("teaching cancelled" in text.replace("\\", "") for text in texts(at.error)), texts(at.error)
    assert at.session_state["fresh_visitor"].overlay.adapter_location is None


def test_the_page_teaches_the_adapter_and_shows_cost_and_gain(page):
    at = paste(page(), FERRY.name, FERRY.read_text(encoding="utf-8"))
    at = ask_page(at, "Bicycles travel for how much each way?")
    at = click(at, "Propose pairs")
    at.slider(key="fresh_budget").set_value(10)
    at = click(at, "Teach")
    at.session_state["fresh_visitor"].job.join(180)
    at = run(at)
    assert not at.error, texts(at.error)
    assert {"What it cost", "What it bought"} <= set(texts(at.subheader))
    assert {"Examples trained", "Steps", "Seconds of training", "Recall on the taught pairs"} <= \
        {m.label for m in at.metric}
    assert any(text.startswith("Asked again: Bicycles travel") for text in texts(at.text))
    assert at.main.get("vega_lite_chart") or at.main.get("arrow_vega_lite_chart"), "the loss chart"

    at = click(at, "Reset to the shipped state")
    assert at.session_state["fresh_visitor"].overlay.adapter_location is None
    assert "Nothing added yet: RAG searches the shipped documents only." in texts(at.text)


def test_two_sessions_never_see_each_others_documents(page):
    first = paste(page(), FERRY.name, FERRY.read_text(encoding="utf-8"))
    second = ask_page(page(), FERRY_QUESTION)
    assert "Nothing added yet: RAG searches the shipped documents only." in texts(second.text)
    assert not any("added/" in caption for caption in texts(second.caption))
    assert len(first.session_state["fresh_visitor"].overlay) == 1
    assert len(second.session_state["fresh_visitor"].overlay) == 0


def test_fresh_command_measures_before_adding_after_adding_and_after_teaching(micro_env, tmp_path):
    """`fourpaths fresh` on the test documents: RAG finds the added documents' answers it could not find before,
    teaching reports its recall, and the figures land in results/fresh.json and docs/results.md."""
    from fourpaths.cli import main
    from fourpaths.measure.results_doc import write_results_doc

    output = tmp_path / "fresh.json"
    assert main(["fresh", "--teach-seconds", "5", "--json", "--output", str(output)]) == 0
    doc = json.loads(output.read_text(encoding="utf-8"))
    assert [d["name"] for d in doc["documents"]] == sorted(p.name for p in DATA.glob("*.md") if p.name != "README.md")
    assert all(d["searchable_s"] > 0 and d["chunks"] >= 1 for d in doc["documents"])
    before, after = doc["before"]["rag"], doc["after_adding"]["rag"]
    assert after["first_passage_from_the_right_document"] > before["first_passage_from_the_right_document"]
    assert doc["teaching"]["steps"] >= 1 and 0.0 <= doc["teaching"]["recall_on_taught_pairs"] <= 1.0
    assert set(doc["after_teaching"]) == {"lora"}
    page = write_results_doc(tmp_path / "none.json", tmp_path / "none.json", tmp_path / "results.md", output)
    text = page.read_text(encoding="utf-8")
    assert "## Fresh knowledge" in text and doc["documents"][0]["name"] in text


def test_fresh_command_refuses_a_negative_budget_and_a_folder_without_documents(micro_env, tmp_path, capsys):
    from fourpaths.cli import main

    assert main(["fresh", "--teach-seconds", "-1"]) != 0
    assert main(["fresh", "--documents", str(tmp_path)]) != 0
    assert "no .md or .txt documents" in capsys.readouterr().err
