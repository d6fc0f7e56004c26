"""ExtractStories: real trafilatura on real HTML, directly and under the DirectRunner."""

from __future__ import annotations

import argparse
import dataclasses

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.core.html_text import html_to_text
from transforms.core.records import (
    FeedEntry,
    FetchedPage,
    Rejected,
    Story,
    content_hash_for,
    story_id_for,
)
from transforms.extract import stage as extract
from transforms.extract.config import SECOND_PASS_ALWAYS
from transforms.extract.stage import (
    ExtractConfig,
    ExtractStories,
    extract_page,
    extract_story,
)
from transforms.language.hints import page_language_of

FETCHED_AT = "2020-11-08T10:00:00Z"
URL = "https://news.example.org/world/2020/11/07/lukashenko-us-relations"

PARAGRAPHS = [
    "MINSK, November 7. /TASS/. President of Belarus Alexander Lukashenko believes that "
    "Belarusian-US relations will not change with any outcome of the US presidential elections.",
    '"I do not expect the situation in our relations to change," BelTA news agency quoted '
    "Lukashenko as saying on Saturday during a meeting with officials in the capital.",
    "At the same time, Lukashenko negatively assessed the US presidential elections held on "
    "November 3, the results of which have not yet been determined by the election officials.",
    "He recalled that Western countries did not recognize the August presidential elections in "
    "Belarus as free and fair and called for a repeat vote under international observation.",
    "Nationwide demonstrations have engulfed Belarus following the August 9 presidential "
    "election, with tens of thousands of people marching through Minsk every weekend since.",
]


def article_html(
    paragraphs: list[str] = PARAGRAPHS,
    canonical: str = URL,
    extra_body: str = "",
    lang: str = "en",
) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head>
<meta charset="utf-8">
<title>Lukashenko does not expect Belarus-US relations to change | News Example</title>
<meta property="og:title" content="Lukashenko does not expect Belarus-US relations to change">
<meta property="og:site_name" content="News Example">
<meta name="description" content="The Belarusian leader comments on the US election.">
<meta name="keywords" content="Belarus, Lukashenko">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2020-11-07T12:00:00Z">
<link rel="canonical" href="{canonical}">
</head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<main><article>
<h1>Lukashenko does not expect Belarus-US relations to change</h1>
{body}
<p>Sign up for our daily newsletter</p>
{extra_body}
</article></main>
<aside><h3>Most read</h3><ul><li><a href="/a">Another story</a></li></ul></aside>
<footer><p>Copyright 2020 News Example. All rights reserved.</p></footer>
</body></html>"""


def make_page(html: object, summary: str = "", url: str = URL, title: str = "") -> FetchedPage:
    entry = FeedEntry(
        entry_id=f"entry-{url}",
        feed_url="https://news.example.org/feed.xml",
        feed_name="News Example",
        url=url,
        canonical_url=url,
        title=title,
        summary=summary,
        published_at="2020-11-07T12:00:00Z",
        categories=("World",),
    )
    return FetchedPage(
        entry=entry,
        final_url=url,
        status=200,
        content_type="text/html",
        html=html,  # type: ignore[arg-type]
        fetched_at=FETCHED_AT,
    )


def test_article_becomes_a_clean_story_with_metadata() -> None:
    tag_line = "<p>Lukashenko, Belarus, United States, Elections</p>"
    story = extract_story(make_page(article_html(extra_body=tag_line)), ExtractConfig())
    assert isinstance(story, Story)
    assert story.title == "Lukashenko does not expect Belarus-US relations to change"
    # the dateline is parsed into its fields and stays in the body, as the references keep it
    assert story.text.startswith("MINSK, November 7. /TASS/. President of Belarus Alexander")
    assert "newsletter" not in story.text.lower()
    assert "Home" not in story.text and "Copyright" not in story.text
    for paragraph in PARAGRAPHS[1:]:
        assert paragraph in story.text
    assert (story.dateline_place, story.dateline_date, story.agency) == (
        "Minsk",
        "2020-11-07",
        "TASS",
    )
    assert story.canonical_url == URL
    assert story.story_id == story_id_for(URL)
    assert story.content_hash == content_hash_for(story.text)
    assert story.site == "news.example.org"
    assert story.sitename == "News Example"
    assert story.authors == ("Jane Doe",)
    assert story.page_language == "en"
    assert story.text_source == "page"
    assert story.published_at == "2020-11-07T12:00:00Z"
    for tag in ("Belarus", "Lukashenko", "World", "United States", "Elections"):
        assert tag in story.tags
    hits = dict(story.cleaning_hits)
    assert hits["newsletter_promo"] == 1 and hits["tag_line"] == 1 and hits["dateline"] == 1


def test_extraction_is_deterministic() -> None:
    page = make_page(article_html())
    assert extract_story(page, ExtractConfig()) == extract_story(page, ExtractConfig())


def test_declared_canonical_is_used_only_when_it_is_an_article_on_the_same_site() -> None:
    other = "https://news.example.org/world/lukashenko-relations-amp"
    story = extract_story(make_page(article_html(canonical=other)), ExtractConfig())
    assert isinstance(story, Story) and story.canonical_url == other
    for bogus in ("https://news.example.org/", "https://elsewhere.example.com/story/1"):
        story = extract_story(make_page(article_html(canonical=bogus)), ExtractConfig())
        assert isinstance(story, Story) and story.canonical_url == URL
        assert story.story_id == story_id_for(URL)


def test_empty_page_falls_back_to_the_feed_summary() -> None:
    summary = "<p>" + " ".join(PARAGRAPHS[1:4]) + "</p><p>Read more: <a href='/x'>here</a></p>"
    shell = "<html><head><title>App</title></head><body><div id='root'></div></body></html>"
    story = extract_story(make_page(shell, summary=summary, title="Feed title"), ExtractConfig())
    assert isinstance(story, Story)
    assert story.text_source == "feed_summary"
    assert story.text.startswith('"I do not expect')
    assert "Read more" not in story.text
    assert story.title == "Feed title"


def test_short_text_is_rejected_as_too_short() -> None:
    html = article_html(paragraphs=["A single short line of news."])
    result = extract_story(make_page(html, summary="Short."), ExtractConfig())
    assert isinstance(result, Rejected)
    assert (result.stage, result.reason) == ("extract", "too_short")
    assert result.story_id == story_id_for(URL)
    assert result.at == FETCHED_AT
    longer = extract_story(make_page(html), ExtractConfig(min_chars=10))
    assert isinstance(longer, Story)


def test_overlong_text_is_rejected_as_too_long() -> None:
    paragraphs = [
        f"Paragraph {i} of a very long dump of text about many things." for i in range(60)
    ]
    html = article_html(paragraphs=paragraphs)
    kept = extract_story(make_page(html), ExtractConfig())
    assert isinstance(kept, Story)
    result = extract_story(make_page(html), ExtractConfig(max_chars=len(kept.text) - 1))
    assert isinstance(result, Rejected)
    assert (result.stage, result.reason) == ("extract", "too_long")


def test_page_without_any_text_is_rejected_as_no_text() -> None:
    result = extract_story(make_page("<html><body></body></html>"), ExtractConfig())
    assert isinstance(result, Rejected) and result.reason == "no_text"


def test_precision_fallback_never_keeps_less_than_the_ratio_of_standard() -> None:
    import trafilatura

    html = article_html(
        extra_body="<table><tr><td>Candidate</td><td>Share</td></tr>"
        "<tr><td>Lukashenko</td><td>80.1%</td></tr></table>"
        "<ul><li>First point of a list in the article</li><li>Second point</li></ul>"
    )
    standard = trafilatura.extract(html, url=URL, include_comments=False) or ""
    for ratio in (0.5, 1.0):
        chosen = extract_page(html, URL, ExtractConfig(fallback_ratio=ratio), FETCHED_AT)
        assert len(chosen.text) >= ratio * len(standard)
    recall = extract_page(html, URL, ExtractConfig(mode="recall"), FETCHED_AT)
    assert recall.mode == "recall"


def test_page_language_and_summary_text() -> None:
    assert page_language_of('<html xml:lang="de-AT" class="x">') == "de"
    assert page_language_of('<meta http-equiv="Content-Language" content="be">') == "be"
    assert page_language_of("<html><body>") is None
    assert html_to_text("<p>One &amp; two</p><p>Three</p>", lines=True) == "One & two\nThree"
    assert html_to_text("plain &lt;text&gt;", lines=True) == "plain <text>"


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="mode"):
        ExtractConfig(mode="fast")
    with pytest.raises(ValueError, match="ratio"):
        ExtractConfig(fallback_ratio=2.0)


def test_second_pass_runs_only_when_the_precise_text_is_short(monkeypatch) -> None:
    """The standard pass costs a third of a page; it is only asked when precision kept little."""
    from transforms.extract import passes

    modes: list[str] = []
    real = passes.run_trafilatura

    def recording(*args, **kwargs):  # the real pass, with its mode noted
        modes.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(passes, "run_trafilatura", recording)
    long_article = article_html(paragraphs=PARAGRAPHS * 4)
    cheap = ExtractConfig(second_pass_below_chars=2_000)
    first = extract_page(long_article, URL, cheap, FETCHED_AT)
    assert len(first.text) >= cheap.second_pass_below_chars
    assert modes == ["precision"]
    modes.clear()
    always = ExtractConfig(second_pass_below_chars=SECOND_PASS_ALWAYS)
    assert extract_page(long_article, URL, always, FETCHED_AT).text == first.text
    assert modes == ["precision", "standard"]  # "always" asks for it on every page
    modes.clear()
    short = extract_page(article_html(), URL, cheap, FETCHED_AT)
    assert len(short.text) < cheap.second_pass_below_chars
    assert modes == ["precision", "standard"]


def test_fill_gaps_puts_back_prose_only_between_precise_paragraphs() -> None:
    from transforms.extract.passes import fill_gaps

    standard = "\n".join(
        [
            "Subscribe to our newsletter",  # before the first precise paragraph: furniture
            "First paragraph of the story.",
            "A dropped paragraph in the middle, next to a link box.",
            "Related: another headline",  # a gap line that is not prose
            "A quote set apart,” she said.”",
            "Last paragraph of the story.",
            "More stories you may like.",  # after the last precise paragraph: never added
        ]
    )
    precise = "First paragraph of the story.\nLast  paragraph of the story."
    text, filled = fill_gaps(precise, standard)
    assert filled == 2
    assert text.split("\n") == [
        "First paragraph of the story.",
        "A dropped paragraph in the middle, next to a link box.",
        "A quote set apart,” she said.”",
        "Last  paragraph of the story.",
    ]
    # nothing to fill: the precise text comes back unchanged, and so it does without a match
    assert fill_gaps("First paragraph of the story.", standard) == (
        "First paragraph of the story.",
        0,
    )
    assert fill_gaps("Other text.\nMore.", standard) == ("Other text.\nMore.", 0)


def test_combine_passes_fills_only_when_the_precise_text_is_kept() -> None:
    from transforms.extract.passes import combine_passes

    middle = "A dropped paragraph in the middle of the story, with enough words to count."
    precise = "First paragraph of the story.\nLast paragraph of the story." * 1
    standard = f"First paragraph of the story.\n{middle}\nLast paragraph of the story."
    asked: list[str] = []

    def pass_of(name: str, text: str):
        return lambda: asked.append(name) or text

    config = ExtractConfig(useful_chars=0, fallback_ratio=0.3)
    text, mode, filled = combine_passes(
        precise, pass_of("standard", standard), pass_of("recall", ""), config
    )
    assert (mode, filled, asked) == ("precision", 1, ["standard"])
    assert middle in text
    off = dataclasses.replace(config, fill_gaps=False)
    assert combine_passes(precise, pass_of("standard", standard), pass_of("recall", ""), off)[
        :2
    ] == (precise, "precision")
    # above the second-pass threshold the standard pass is not even asked for
    asked.clear()
    short_threshold = dataclasses.replace(config, second_pass_below_chars=len(precise))
    assert combine_passes(
        precise, pass_of("standard", standard), pass_of("recall", ""), short_threshold
    ) == (precise, "precision", 0)
    assert asked == []
    # the standard text replaces a precise text under the ratio: nothing is filled then
    tiny = "First paragraph of the story."
    text, mode, filled = combine_passes(
        tiny, pass_of("standard", standard * 5), pass_of("recall", ""), config
    )
    assert (mode, filled) == ("standard", 0)


def test_the_page_date_is_searched_extensively_only_when_the_feed_has_none() -> None:
    """The extensive date search (dateparser on free text) is paid only when its answer is used."""
    url = "https://news.example.org/world/lukashenko-us-relations"  # no date in the URL
    written = "<p>Veröffentlicht am 3. März 2020</p>"  # found by the extensive search only
    html = article_html(canonical=url, extra_body=written).replace(
        '<meta property="article:published_time" content="2020-11-07T12:00:00Z">', ""
    )
    assert extract_page(html, url, ExtractConfig(), FETCHED_AT).date == "2020-03-03"
    assert extract_page(html, url, ExtractConfig(), FETCHED_AT, date_needed=False).date is None
    dated = make_page(html, url=url)
    story = extract_story(dated, ExtractConfig())
    assert isinstance(story, Story) and story.published_at == dated.entry.published_at
    undated = dataclasses.replace(dated, entry=dataclasses.replace(dated.entry, published_at=None))
    story = extract_story(undated, ExtractConfig())
    assert isinstance(story, Story) and story.published_at == "2020-03-03T00:00:00Z"


def test_flags_round_trip_into_the_config() -> None:
    parser = argparse.ArgumentParser()
    extract.add_arguments(parser)
    for action in parser._actions:
        assert action.help, action.option_strings
    options = PipelineOptions(
        [
            "--extract_mode",
            "standard",
            "--extract_fallback_ratio",
            "0.3",
            "--extract_second_pass_chars",
            "900",
            "--extract_fill_gaps=false",
            "--min_chars",
            "120",
            "--extract_tables=false",
            "--extract_comments",
            "--clean_text",
            "no",
            "--extract_timeout",
            "0",
        ]
    )

    from pipeline.options import WirestreamOptions

    config = extract.config_from_options(options.view_as(WirestreamOptions))
    assert config == ExtractConfig(
        mode="standard",
        fallback_ratio=0.3,
        second_pass_below_chars=900,
        fill_gaps=False,
        min_chars=120,
        include_tables=False,
        include_comments=True,
        clean=False,
        parse_datelines=False,
        timeout_seconds=0.0,
    )
    default = PipelineOptions([]).view_as(WirestreamOptions)
    assert extract.config_from_options(default) == ExtractConfig()
    with pytest.raises(argparse.ArgumentTypeError):
        extract.parse_bool("maybe")


def test_composite_routes_ok_rejected_and_dead() -> None:
    good = make_page(article_html())
    short_url = "https://news.example.org/short"
    short = make_page(article_html(paragraphs=["Too short."]), url=short_url)
    broken_url = "https://news.example.org/broken"
    broken = make_page(12345, url=broken_url)  # a corrupt record: html is not text
    expected = extract_story(good, ExtractConfig())
    assert isinstance(expected, Story)
    with TestPipeline(runner="DirectRunner") as p:
        outputs = p | "Pages" >> beam.Create([good, short, broken]) | ExtractStories()
        assert_that(outputs["ok"], equal_to([expected]), label="CheckOk")
        assert_that(
            outputs["rejected"] | "RejectedKey" >> beam.Map(lambda r: (r.url, r.reason)),
            equal_to([(short_url, "too_short")]),
            label="CheckRejected",
        )
        assert_that(
            outputs["dead"]
            | "DeadKey"
            >> beam.Map(lambda d: (d.url, d.stage, d.reason, d.error.split(":")[0], d.at)),
            equal_to([(broken_url, "extract", "extract_error", "TypeError", FETCHED_AT)]),
            label="CheckDead",
        )


def _link_farm(links: int) -> str:
    """A page of nothing but links: trafilatura's link-density pruning goes superlinear on it."""
    anchors = " ".join(f'<a href="/l{i}">link number {i}</a>' for i in range(links))
    return f"<html><body><div>{anchors}</div></body></html>"


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_pathological_page_times_out_and_the_next_page_still_extracts() -> None:
    slow_url = "https://news.example.org/link-farm"
    slow = make_page(_link_farm(60_000), url=slow_url)
    good = make_page(article_html())
    config = ExtractConfig(timeout_seconds=1.0)
    expected = extract_story(good, config)
    with TestPipeline(runner="DirectRunner") as p:
        outputs = p | "Pages" >> beam.Create([slow, good]) | ExtractStories(config)
        assert_that(outputs["ok"], equal_to([expected]), label="CheckOk")
        assert_that(
            outputs["dead"] | "DeadKey" >> beam.Map(lambda d: (d.url, d.reason)),
            equal_to([(slow_url, "extract_timeout")]),
            label="CheckDead",
        )


def _sample_pages() -> dict[str, FetchedPage]:
    """The bundled sample's article pages (the seed stories as served), read from its archive."""
    from pathlib import Path

    from warcio.archiveiterator import ArchiveIterator

    archive = Path(extract.__file__).parents[1] / "data" / "sample" / "sample.warc"
    pages = {}
    with archive.open("rb") as handle:
        for record in ArchiveIterator(handle):
            content_type = (
                record.http_headers.get_header("Content-Type") if record.http_headers else ""
            )
            if record.rec_type != "response" or not content_type.startswith("text/html"):
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            html = record.content_stream().read().decode("utf-8")
            pages[url.rsplit("/", 1)[-1]] = make_page(html, url=url)
    return pages


def test_seed_pages_from_the_bundled_sample() -> None:
    pages = _sample_pages()
    results = {slug: extract_story(page, ExtractConfig()) for slug, page in pages.items()}
    stories = {slug: r for slug, r in results.items() if isinstance(r, Story)}
    tass = [stories["lukashenko-us-elections"], stories["russia-belarus-normalize"]]
    for story in tass:
        assert (story.dateline_place, story.agency) == ("Minsk", "TASS")
        assert "/TASS/." in story.text and "All news" not in story.text
    reuters = stories["lukashenko-says-us-ties-could-improve"]
    assert reuters.agency is not None and reuters.agency.casefold() == "reuters"
    assert reuters.dateline_date is not None and reuters.dateline_date.endswith("-12-17")
    assert "newsletter" not in reuters.text.lower() and not reuters.text.startswith("date")
    opposition = stories["opposition-relations-russia"]
    assert {"Tikhanovskaya", "Belarus", "Russia", "Lukashenko"} <= set(opposition.tags)
    assert not opposition.text.rstrip().endswith("Lukashenko")
    for slug in ("closer-cooperation-belarus", "russia-plans-closer-cooperation"):
        text = stories[slug].text
        assert "rewrite this" not in text.lower() and "Leave a Comment" not in text
        paragraphs = [p for p in text.split("\n") if len(p.split()) >= 6]
        assert len(paragraphs) == len(set(paragraphs)), slug
    original = stories["closer-cooperation-belarus"]
    spun = stories["russia-plans-closer-cooperation"]
    assert spun.content_hash == original.content_hash


def test_article_behind_megabytes_of_whitespace_is_extracted_whole() -> None:
    """Blank padding must not push the article past the markup cap (it used to end as no_text)."""
    padding = " \t \n" * 1_500_000  # 6 MB of whitespace ahead of the article
    html = article_html().replace("<body>", "<body>" + padding, 1)
    config = ExtractConfig()
    assert len(html) > config.max_html_chars
    plain = extract_story(make_page(article_html()), config)
    padded = extract_story(make_page(html), config)
    assert isinstance(padded, Story)
    assert isinstance(plain, Story) and padded.text == plain.text
    # the DoFn itself (a 6 MB element under beam.Create costs a minute of pickling)
    fn = extract.ExtractStoryFn(config)
    fn.setup()
    outputs = list(fn.process(make_page(html)))
    assert [type(o).__name__ for o in outputs] == ["Story"] and outputs[0].text == plain.text


def test_article_beyond_the_markup_cap_is_rejected_by_name() -> None:
    """No silent cut: markup over --max_html_chars ends as Rejected(html_too_large), counted."""
    config = ExtractConfig(max_html_chars=20_000)
    words = " ".join(f"word{i}" for i in range(5_000))  # no blank runs to collapse
    big_url = "https://news.example.org/huge"
    big = make_page(article_html(extra_body=f"<p>{words}</p>"), url=big_url)
    good = make_page(article_html())
    direct = extract_story(big, config)
    assert isinstance(direct, Rejected) and direct.reason == "html_too_large"
    assert "html_chars=" in direct.detail
    with TestPipeline(runner="DirectRunner") as p:
        outputs = p | "Pages" >> beam.Create([big, good]) | ExtractStories(config)
        assert_that(
            outputs["rejected"] | "RejectedKey" >> beam.Map(lambda r: (r.url, r.reason)),
            equal_to([(big_url, "html_too_large")]),
            label="CheckRejected",
        )
        assert_that(
            outputs["ok"] | "OkUrl" >> beam.Map(lambda s: s.url), equal_to([URL]), label="CheckOk"
        )
