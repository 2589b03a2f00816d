"""A presenter's session: answers marked as the Scoreboard scores them, kept per question and settings, and the
stand-alone HTML report of them (escaped, offline, with its latency chart)."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

from fourpaths.config import load_settings
from fourpaths.measure.evaluation import score_answer
from fourpaths.retrieval.corpus import QAItem
from fourpaths.types import CONFIDENCE_MEANINGS, Source, Trace
from fourpaths.views.export import plain_text
from fourpaths.views.report import latency_svg, session_report
from fourpaths.views.session import ABSTAINED, PARTLY, RIGHT, WRONG, Asked, History, mark, reference_for, settings_label

PRICE = QAItem("upd-u-001", "What is the Loomwork Standard price?", "£195 per robot per month",
               "updates/update-2026-loomwork-price-change.md", "eval_unseen", 1)
NOTHING = QAItem("na-q-005", "What is the VAT number?", "", "", "eval_unanswerable", 5)
HOSTILE = '<script>alert(1)</script> ![x](http://example.com/x.png) "quoted" & more'


def trace(text: str, path: str = "rag", answered: bool = True, **extra) -> Trace:
    return Trace(path=path, title=path.upper(), text=text, mode="extractive reader", model="models/reader",
                 input="input", answered=answered, ttft_ms=12.0, total_ms=40.0, **extra)


def test_marks_follow_the_scoreboards_scoring():
    cases = {"£195 per robot per month": RIGHT, "£180 per robot per month": WRONG,
             "The documents do not answer this.": ABSTAINED,
             "From 1 October the Standard tier is £195 per robot per month, up from £180, with fleet map, task "
             "dispatch, charging schedules and email support included as before.": PARTLY}
    for text, expected in cases.items():
        judged = mark(trace(text), PRICE)
        outcome = score_answer(trace(text), PRICE)
        assert judged.state == expected, text
        assert judged.correct == outcome.strict  # "right" is exactly what the Scoreboard counts as strict
    assert mark("the reader failed", PRICE).state == "error"
    abstained = mark(trace("I was not taught this.", "lora"), NOTHING)
    assert abstained.state == ABSTAINED and abstained.correct  # no document answers: abstaining is right
    assert abstained.label == "✓ abstained" and abstained.colour == "green"
    assert mark(trace("I don't know."), PRICE).label == "○ abstained"
    assert mark(trace("GB123456789"), NOTHING).state == WRONG
    assert mark(trace("I don't know.", "prompt"), PRICE).correct is False


def test_the_history_keeps_one_row_per_question_and_settings():
    settings = load_settings()
    history = History()
    first = history.add(Asked(PRICE.question, settings_label(settings), {"rag": trace("£195 per robot per month")},
                              50.0, PRICE))
    few_shot = settings_label(replace(settings, template="few-shot"))
    assert few_shot != first.settings and "few-shot" in few_shot
    history.add(Asked(PRICE.question, few_shot, {"rag": trace("£180")}, 60.0, PRICE))
    assert len(history) == 2 and history.entries[0] is first  # a settings switch adds, never erases
    again = history.add(Asked(PRICE.question, few_shot, {"rag": trace("£195 per robot per month")}, 55.0, PRICE))
    assert len(history) == 2 and history.latest is again  # the same question and settings: replaced
    history.clear()
    assert len(history) == 0 and history.latest is None


def test_a_question_from_the_sets_finds_its_reference_whatever_its_case_and_spacing():
    root = load_settings().corpus_root
    item = reference_for(root, "  what is the Loomwork Standard subscription price per robot per month from "
                               "1 October 2026? ")
    assert item is not None and item.id == "upd-u-001" and item.answer == "£195 per robot per month"
    assert reference_for(root, "What is the weather like on Mars today?") is None


def test_every_mode_says_what_its_confidence_measures():
    assert set(CONFIDENCE_MEANINGS) == {"generated", "answer head", "extractive reader"}
    assert trace("x").confidence_meaning.startswith("The reader's probability for its span")


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_the_report_is_one_offline_page_with_every_text_escaped():
    sources = [Source(f"docs/{HOSTILE}.md", 0.42, "passage")]
    asked = Asked(HOSTILE, "zero-shot · greedy", {"rag": trace(HOSTILE, sources=sources, confidence=0.73),
                                                  "lora": trace("£195 per robot per month", "lora"),
                                                  "scratch": "model folder not found: <b>x</b>"}, 123.0, PRICE)
    html = session_report([asked])
    parsed = _Collector()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "a" not in parsed.tags
    assert "link" not in parsed.tags and "b" in parsed.tags  # only the report's own markup
    assert not re.search(r"(src|href)=", html)  # nothing to fetch: it reads the same offline
    assert HOSTILE in "".join(parsed.text)  # shown as written, as text
    assert "svg" in parsed.tags and parsed.tags.count("rect") >= 2 * 2 + 2  # two bars per answer, the legend
    assert "✓ right" in html and "0.73" in html and "first token 12 ms, total 40 ms" in html
    assert "model folder not found: &lt;b&gt;x&lt;/b&gt;" in html
    assert "The reader&#x27;s probability for its span" in html
    assert "No question was asked" in session_report([])


def test_the_latency_chart_scales_to_the_slowest_answer():
    svg = latency_svg({"rag": trace("a"), "lora": replace(trace("b", "lora"), ttft_ms=5.0, total_ms=400.0)})
    widths = [float(w) for w in re.findall(r'width="([\d.]+)" height="\d+" fill="#\w+"><title>', svg)]
    assert max(widths) == 640 - 90 - 70 and len(widths) == 4


def test_document_markdown_is_shown_as_its_text():
    assert plain_text("- **Standard:** £195 per robot per month") == "• Standard: £195 per robot per month"
    assert plain_text("## Summary\nSee [the notice](http://x.example) and `LW-4597`.") == \
        "Summary\nSee the notice and LW-4597."
    assert plain_text("2*3*4 and snake_case_name stay") == "2*3*4 and snake_case_name stay"
