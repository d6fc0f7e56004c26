"""Quality gate: topics on real article pages.

130 hand-labelled pages (guidelines inside the label files). ``tests/fixtures/topic_labels.json``:
batch 1 (30 article-extraction-benchmark pages; issue 18's first taxonomy changes were found on
them), batch 2 (30 pages of article-extraction-benchmark and news-html-newspaper, labelled before
the matcher was run on them: 22 right when first run, 24 after ``min_phrases``) and batch 4 (40
development pages labelled before the matcher was run on them: 31 right, the scorer never tuned
on them). ``tests/fixtures/topic_labels_heldout.json``: batch 3, 30 pages labelled before any
scorer was run on them and used for no choice: 24 right (0.80), the honest figure. Candidate
scorings (``benchmarks.topic_cv``) were chosen by 5-fold cross-validation on the 100 pages of the
first file; none beat the production scorer out of fold, so it is unchanged. Nor did the
publisher's filing (URL section segments, tags and categories) or a heavier headline, tried the
same way: the bundled taxonomy leaves ``section_weight`` and ``tag_weight`` at 0.
``tests/fixtures/topic_labels_heldout_batch5.json``: batch 5, 25 more pages labelled by reading
after that decision, before the matcher was run on them: 20 right (0.80), a fresh check that
agrees with batch 3. Floors sit at the measured values (155 pages: 126 right, 0.813, precision
0.849; the 130 of batches 1-4: 0.815, 0.853) and may only go up; the 0.85 of the first 60 pages
still holds there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.tagging import topic_figures

pytestmark = [pytest.mark.shared]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LABELS = [
    FIXTURES / "topic_labels.json",
    FIXTURES / "topic_labels_heldout.json",
    FIXTURES / "topic_labels_heldout_batch5.json",
]
BATCH_FLOORS = {"1": 0.9, "2": 0.8, "3": 0.8, "4": 0.775, "5": 0.8}  # first topic right, per batch


@pytest.fixture(scope="module")
def figures(shared_dir: Path) -> dict:
    data = shared_dir / "data"
    folders = [data / "article-extraction-benchmark", data / "news-html-newspaper"]
    for folder in folders:
        if not folder.is_dir():
            pytest.skip(f"{folder.name} is not present")
    return topic_figures(folders, LABELS)


def test_first_topic_on_labelled_pages(figures: dict) -> None:
    assert figures["labelled_pages"] == 155
    assert figures["first_topic_accuracy"] >= 0.81, figures["wrong"]
    assert figures["first_topic_precision"] >= 0.845
    for batch, floor in BATCH_FLOORS.items():
        assert figures["batches"][batch]["first_topic_accuracy"] >= floor, batch
    first_sixty = [figures["batches"][b] for b in ("1", "2")]
    right = sum(b["first_topic_right"] for b in first_sixty)
    assert right / 60 >= 0.85


def test_publisher_filing_is_read_and_mostly_right(figures: dict) -> None:
    # the URL sections and tags reach the matcher (on 22 and 55 of the 155 pages they name a
    # topic when measured), and a section naming a topic mostly names one the labeller accepts
    filing = figures["publisher_filing_on_labelled_pages"]
    assert filing["section"]["pages"] >= 20
    assert filing["section"]["names_an_accepted_topic"] >= 0.8 * filing["section"]["pages"]
    assert filing["tag"]["pages"] >= 50


def test_topic_spread(figures: dict) -> None:
    # stories do not all carry the same topics, and most get one to three
    assert figures["most_common_top_three"]["share"] < 0.2
    assert figures["no_topic_share"] < 0.3
    assert len(figures["first_topics"]) >= 12
    assert 1.0 <= figures["mean_topics_per_story"] <= 3.0
