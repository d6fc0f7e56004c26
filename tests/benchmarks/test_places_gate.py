"""Quality gate: country tags against the hand labels of 130 benchmark pages.

``tests/fixtures/places_labels.json`` (60 article-extraction-benchmark pages: batch 1 labelled
alongside the tagger, batch 2 by reading before the tagger was run on it),
``tests/fixtures/places_labels_heldout.json`` (40 pages of article-extraction-benchmark and
news-html-newspaper, labelled by reading before the tagger was run on them, never used to write
rules before that first measure) and ``tests/fixtures/places_labels_heldout_batch3.json`` (30 more
such pages, labelled and committed before the tagger was run on them). Measured: 60 pages
precision 1.000, recall 0.992; held-out 40 before the rules of the second round 0.938 / 0.968,
after 1.000 / 1.000 (now in-sample); batch 3 when first run 1.000 / 0.969 (the honest figure),
after the shared-name rule ("Korea") 1.000 / 0.985 (in-sample); all 130 pages 1.000 / 0.992.
Floors sit below the honest figures and may only go up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.places import main, run

pytestmark = [pytest.mark.shared]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LABELS = FIXTURES / "places_labels.json"
HELD_OUT = FIXTURES / "places_labels_heldout.json"
BATCH_3 = FIXTURES / "places_labels_heldout_batch3.json"
FLOORS = {"precision": 0.98, "recall": 0.96}  # on each labelled set and each batch
ALL_FLOORS = {"precision": 0.99, "recall": 0.98}  # on all 130 pages


@pytest.fixture(scope="module")
def bodies(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "article-extraction-benchmark" / "ground-truth.json"
    if not path.is_file():
        pytest.skip("article-extraction-benchmark is not present")
    return path


@pytest.fixture(scope="module")
def newspaper(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "news-html-newspaper"
    if not (path / "index.json").is_file():
        pytest.skip("news-html-newspaper is not present")
    return path


def _holds(figures: dict, floors: dict[str, float]) -> None:
    for metric, floor in floors.items():
        assert figures[metric] >= floor, (metric, figures)


def test_places_precision_and_recall_on_labelled_pages(bodies: Path, newspaper: Path) -> None:
    from transforms.tags.places import Gazetteer

    gazetteer = Gazetteer.build()
    first = run(LABELS, bodies, gazetteer=gazetteer)
    held_out = run(HELD_OUT, [bodies, newspaper], gazetteer=gazetteer)
    batch_3 = run(BATCH_3, [bodies, newspaper], gazetteer=gazetteer)
    sets = (first, held_out, batch_3)
    assert tuple(result["pages"] for result in sets) == (60, 40, 30)
    for result in sets:
        assert not result["missing_bodies"]
        _holds(result, FLOORS)
    for batch in first["batches"].values():
        _holds(batch, FLOORS)
    tp, fp, fn = (sum(result["counts"][k] for result in sets) for k in ("tp", "fp", "fn"))
    _holds({"precision": tp / (tp + fp), "recall": tp / (tp + fn)}, ALL_FLOORS)


def test_places_command_writes_errors_with_url_and_phrase(bodies: Path, tmp_path: Path) -> None:
    labels = json.loads(LABELS.read_text("utf-8"))
    first = sorted(labels["pages"])[0]
    page = labels["pages"][first]
    # a wrong label on purpose: the country the page does name becomes a false positive, and a
    # country it never names a false negative
    labels["pages"] = {first: {**page, "countries": ["AQ"]}}
    wrong = tmp_path / "labels.json"
    wrong.write_text(json.dumps(labels), "utf-8")
    out = tmp_path / "out.json"
    assert main([str(wrong), str(bodies), "--json", str(out)]) == 0
    result = json.loads(out.read_text("utf-8"))
    assert set(result) >= {"pages", "precision", "recall", "false_positives", "false_negatives"}
    assert result["pages"] == 1
    assert result["false_negatives"] == [
        {"page": first, "url": page["url"], "country": "AQ", "phrases": []}
    ]
    assert {e["country"] for e in result["false_positives"]} == set(page["countries"])
    for error in result["false_positives"]:
        assert error["url"] == page["url"] and error["phrases"], error


def test_places_reads_the_newspaper_layout_beside_the_article_benchmark(tmp_path: Path) -> None:
    news = tmp_path / "news"
    (news / "text").mkdir(parents=True)
    (news / "text" / "site.com1.txt").write_text("Talks in Berlin ended. Germany said no.", "utf-8")
    (news / "index.json").write_text(
        json.dumps({"site.com1": {"text": "text/site.com1.txt", "url": None}}), "utf-8"
    )
    aeb = tmp_path / "ground-truth.json"
    aeb.write_text(json.dumps({"abc": {"articleBody": "Flooding hit Vietnam.", "url": "u"}}))
    labels = tmp_path / "labels.json"
    pages = {"site.com1": {"countries": ["DE", "FR"]}, "abc": {"countries": ["VN"]}}
    labels.write_text(json.dumps({"pages": pages}), "utf-8")
    result = run(labels, [aeb, news])
    assert result["pages"] == 2 and not result["missing_bodies"]
    assert (result["precision"], result["recall"]) == (1.0, 0.6667)
    # a page without a URL is reported by its id
    assert result["false_negatives"] == [
        {"page": "site.com1", "url": "site.com1", "country": "FR", "phrases": []}
    ]


@pytest.mark.slow  # builds the gazetteer tables three times
def test_places_ablation_scores_each_rule_switched_off(tmp_path: Path) -> None:
    from transforms.tags.place_mentions import RULES

    body = "Texts, written in Spanish, were found in Lyon. WASHINGTON is far."
    bodies = tmp_path / "ground-truth.json"
    bodies.write_text(json.dumps({"p": {"articleBody": body, "url": "u"}}), "utf-8")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"pages": {"p": {"countries": ["FR"]}}}), "utf-8")
    out = tmp_path / "out.json"
    assert main([str(labels), str(bodies), "--ablation", "--json", str(out)]) == 0
    result = json.loads(out.read_text("utf-8"))
    assert (result["precision"], result["recall"]) == (1.0, 1.0)
    assert set(result["ablation"]) == set(RULES)
    # without the language rule, "in Spanish" tags Spain
    assert result["ablation"]["language_names"]["fp"] == 1
    assert result["ablation"]["organisation_names"]["fp"] == 0
