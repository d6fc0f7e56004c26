"""Build the bundled offline sample from the seed stories.

The sample is what `make demo` and the end-to-end tests run on: four feeds (RSS 2.0, Atom 1.0,
RDF/RSS 1.0 and a second RSS 2.0) on made-up sites, whose entries point at article pages built
from the five seed stories, wrapped in the navigation, promo, share and comment chrome that real
news pages carry. It also holds seed 001's original and its spun copy on two sites, a link that
answers 404, and one article URL listed in two feeds (once with tracking parameters).

Beside the feeds, ``wire/`` is an agency drop folder (``--wire_input``) with the TASS originals
of seeds 000 and 004, written from the IPTC specifications: 000 as NewsML-G2 with NITF text, in
a first (shorter) version and a corrected second one, and 004 as ninjs 2.0. Their web copies on
eastwire.example come in through the feeds; dedup makes the agency items canonical.

Run: ``python tools/make_sample.py ../shared/seeds transforms/data/sample``. The output (a WARC
archive of every response plus the feed list) is committed, so the demo and tests need neither
the seeds nor a network. Responses are dated, so replayed runs are deterministic.
"""

from __future__ import annotations

import html
import io
import sys
from pathlib import Path
from typing import Any

import yaml
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

FETCHED_AT = "2026-11-24T06:00:00Z"

SITES = {
    "eastwire.example": ("East Wire", "World news from the East Wire desk"),
    "europe-desk.example": ("Europe Desk", "Europe Desk: politics and power"),
    "straits-daily.example": ("The Straits Daily", "The Straits Daily"),
    "newsfarm.example": ("NewsFarm Daily", "NewsFarm Daily | Trending now"),
}


def _read(seeds: Path, prefix: str) -> list[str]:
    path = next(seeds.glob(f"{prefix}_*.txt"))
    return path.read_text(encoding="utf-8").split("\n")


def _paragraphs(lines: list[str]) -> list[str]:
    return [line for line in lines if line.strip()]


def page(
    site: str,
    path: str,
    title: str,
    paragraphs: list[str],
    published: str,
    author: str,
    keywords: str = "",
) -> bytes:
    """Wrap story paragraphs in the chrome of a made-up news site."""
    name, tagline = SITES[site]
    url = f"https://{site}{path}"
    body = "\n".join(f"      <p>{html.escape(p.strip())}</p>" for p in paragraphs)
    meta_keywords = (
        f'  <meta name="keywords" content="{html.escape(keywords)}">\n' if keywords else ""
    )
    doc = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(title)} | {html.escape(name)}</title>
  <link rel="canonical" href="{url}">
  <meta property="og:url" content="{url}">
  <meta property="og:title" content="{html.escape(title)}">
  <meta property="og:site_name" content="{html.escape(name)}">
  <meta property="article:published_time" content="{published}">
  <meta name="author" content="{html.escape(author)}">
{meta_keywords}  <script>window.dataLayer = window.dataLayer || [];
    dataLayer.push({{page: "article"}});</script>
</head>
<body>
  <header class="site-header">
    <a class="logo" href="https://{site}/">{html.escape(tagline)}</a>
    <nav class="main-nav"><ul>
      <li><a href="https://{site}/world">World</a></li>
      <li><a href="https://{site}/politics">Politics</a></li>
      <li><a href="https://{site}/business">Business</a></li>
      <li><a href="https://{site}/opinion">Opinion</a></li>
      <li><a href="https://{site}/subscribe">Subscribe</a></li>
    </ul></nav>
  </header>
  <div class="breadcrumbs"><a href="https://{site}/">Home</a> &rsaquo;
    <a href="https://{site}/world">World</a> &rsaquo; Europe</div>
  <main>
    <article class="story">
      <h1>{html.escape(title)}</h1>
      <div class="byline">By {html.escape(author)} &middot;
        <time datetime="{published}">{published[:10]}</time></div>
      <div class="share-bar">Share on Facebook | Share on X | Share via email</div>
{body}
    </article>
    <aside class="newsletter-box">
      <h3>Get our morning briefing</h3>
      <p>Sign up for our newsletter and get the top stories in your inbox every day.</p>
      <form><input type="email" placeholder="Your email"><button>Subscribe</button></form>
    </aside>
    <section class="related">
      <h3>Related stories</h3>
      <ul>
        <li><a href="https://{site}/world/markets-open-higher">Markets open higher</a></li>
        <li><a href="https://{site}/world/weather-warning">Storm warning issued</a></li>
        <li><a href="https://{site}/world/football-results">Weekend football results</a></li>
      </ul>
    </section>
    <section id="comments" class="comments">
      <h3>Comments (0)</h3>
      <p>Be the first to comment. Log in to join the discussion.</p>
    </section>
  </main>
  <footer>
    <p>&copy; 2026 {html.escape(name)}. All rights reserved.</p>
    <p><a href="https://{site}/privacy">Privacy policy</a> |
      <a href="https://{site}/terms">Terms of use</a> |
      <a href="https://{site}/contact">Contact us</a></p>
  </footer>
</body>
</html>
"""
    return doc.encode("utf-8")


def rss2(site: str, items: list[dict[str, str]]) -> bytes:
    name, _ = SITES[site]
    parts = []
    for item in items:
        cats = "".join(f"<category>{html.escape(c)}</category>" for c in item.get("cats", []))
        parts.append(
            f"""    <item>
      <title>{html.escape(item["title"])}</title>
      <link>{html.escape(item["link"])}</link>
      <guid isPermaLink="false">{html.escape(item["guid"])}</guid>
      <pubDate>{item["rfc822"]}</pubDate>
      <description>{html.escape(item["summary"])}</description>
      {cats}
    </item>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>{html.escape(name)}</title>
    <link>https://{site}/</link>
    <description>Latest stories from {html.escape(name)}</description>
    <language>en</language>
{chr(10).join(parts)}
  </channel>
</rss>
""".encode()


def atom(site: str, items: list[dict[str, str]]) -> bytes:
    name, _ = SITES[site]
    parts = []
    for item in items:
        cats = "".join(f'<category term="{html.escape(c)}"/>' for c in item.get("cats", []))
        parts.append(
            f"""  <entry>
    <title>{html.escape(item["title"])}</title>
    <link rel="alternate" href="{html.escape(item["link"])}"/>
    <id>{html.escape(item["guid"])}</id>
    <published>{item["iso"]}</published>
    <updated>{item["iso"]}</updated>
    <summary>{html.escape(item["summary"])}</summary>
    <author><name>{html.escape(item.get("author", name))}</name></author>
    {cats}
  </entry>"""
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>{html.escape(name)}</title>
  <link href="https://{site}/"/>
  <id>https://{site}/atom.xml</id>
  <updated>{max(i["iso"] for i in items)}</updated>
{chr(10).join(parts)}
</feed>
""".encode()


def rdf(site: str, items: list[dict[str, str]]) -> bytes:
    name, _ = SITES[site]
    seq = "".join(f'<rdf:li rdf:resource="{html.escape(i["link"])}"/>' for i in items)
    parts = [
        f"""  <item rdf:about="{html.escape(i["link"])}">
    <title>{html.escape(i["title"])}</title>
    <link>{html.escape(i["link"])}</link>
    <description>{html.escape(i["summary"])}</description>
    <dc:date>{i["iso"]}</dc:date>
  </item>"""
        for i in items
    ]
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://{site}/index.rdf">
    <title>{html.escape(name)}</title>
    <link>https://{site}/</link>
    <description>Trending stories</description>
    <items><rdf:Seq>{seq}</rdf:Seq></items>
  </channel>
{chr(10).join(parts)}
</rdf:RDF>
""".encode()


TASS_PROVIDER = "TASS"


def newsml_item(
    guid: str,
    version: int,
    headline: str,
    paragraphs: list[str],
    first_created: str,
    version_created: str,
    located: str,
    subjects: list[tuple[str, str]],
) -> bytes:
    """A NewsML-G2 2.x newsItem whose text is NITF inline XML, as agencies deliver it."""
    esc = html.escape
    subject_xml = "\n".join(
        f'        <subject type="cpnat:abstract" qcode="{esc(q)}"><name>{esc(n)}</name></subject>'
        for q, n in subjects
    )
    body = "\n".join(f"              <p>{esc(p.strip())}</p>" for p in paragraphs)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="{esc(guid)}" version="{version}"
    standard="NewsML-G2" standardversion="2.35" conformance="power" xml:lang="en">
    <catalogRef href="http://www.iptc.org/std/catalog/catalog.IPTC-G2-Standards_37.xml"/>
    <itemMeta>
        <itemClass qcode="ninat:text"/>
        <provider qcode="nprov:TASS"><name>{TASS_PROVIDER}</name></provider>
        <versionCreated>{version_created}</versionCreated>
        <firstCreated>{first_created}</firstCreated>
        <pubStatus qcode="stat:usable"/>
    </itemMeta>
    <contentMeta>
        <contentCreated>{first_created}</contentCreated>
        <located type="cptype:city" qcode="city:Minsk"><name>{esc(located)}</name></located>
        <creator qcode="nprov:TASS"><name>{TASS_PROVIDER}</name></creator>
        <language tag="en"/>
{subject_xml}
        <headline>{esc(headline)}</headline>
    </contentMeta>
    <contentSet>
        <inlineXML contenttype="application/nitf+xml">
          <nitf xmlns="http://iptc.org/std/NITF/2006-10-18/">
            <body>
              <body.head><hedline><hl1>{esc(headline)}</hl1></hedline></body.head>
              <body.content>
{body}
              </body.content>
            </body>
          </nitf>
        </inlineXML>
    </contentSet>
</newsItem>
""".encode()


def ninjs2_item(
    guid: str,
    version: int,
    headline: str,
    standfirst: str,
    paragraphs: list[str],
    created: str,
    located: str,
    subjects: list[tuple[str, str]],
) -> bytes:
    """A ninjs 2.0 text item (IPTC News in JSON) with an HTML body."""
    import json

    item = {
        "standard": {
            "name": "ninjs",
            "version": "2.0",
            "schema": "http://www.iptc.org/std/ninjs/ninjs-schema_2.0.json",
        },
        "uri": guid,
        "type": "text",
        "version": str(version),
        "firstcreated": created,
        "versioncreated": created,
        "pubstatus": "usable",
        "language": "en",
        "headlines": [{"role": "main", "value": headline}],
        "descriptions": [{"role": "summary", "value": standfirst}],
        "bodies": [
            {
                "role": "main",
                "contenttype": "text/html",
                "value": "".join(f"<p>{html.escape(p.strip())}</p>" for p in paragraphs),
            }
        ],
        "by": TASS_PROVIDER,
        "located": located,
        "infosources": [{"name": TASS_PROVIDER, "role": "originator"}],
        "copyrightholder": TASS_PROVIDER,
        "subjects": [
            {"name": name, "uri": f"http://cv.iptc.org/newscodes/mediatopic/{code}"}
            for code, name in subjects
        ],
    }
    return (json.dumps(item, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_wire(s000: list[str], s004: list[str], out: Path) -> None:
    """The agency drop folder: TASS originals of seeds 000 (two versions) and 004."""
    wire = out / "wire"
    wire.mkdir(parents=True, exist_ok=True)
    guid_000 = "urn:newsml:tass.com:20201107:lukashenko-us-elections"
    title_000 = "Lukashenko does not expect Belarus-US relations to change after US vote"
    paras_000 = _paragraphs(s000)
    subjects_000 = [
        ("medtop:11000000", "politics"),
        ("medtop:20000065", "election"),
        ("medtop:20000638", "diplomacy"),
    ]
    # Version 1 was the first take (the lead paragraphs); version 2 is the full story.
    (wire / "tass-20201107-lukashenko-v1.xml").write_bytes(
        newsml_item(
            guid_000,
            1,
            title_000,
            paras_000[:3],
            "2020-11-07T12:40:00+03:00",
            "2020-11-07T12:40:00+03:00",
            "Minsk",
            subjects_000,
        )
    )
    (wire / "tass-20201107-lukashenko-v2.xml").write_bytes(
        newsml_item(
            guid_000,
            2,
            title_000,
            paras_000,
            "2020-11-07T12:40:00+03:00",
            "2020-11-07T12:58:00+03:00",
            "Minsk",
            subjects_000,
        )
    )
    headline_004 = "Russia expects situation in Belarus to normalize soon"
    lines_004 = _paragraphs(s004)
    start = next(i for i, line in enumerate(lines_004) if "/TASS/" in line)
    (wire / "tass-20201126-belarus-normalize.json").write_bytes(
        ninjs2_item(
            "urn:newsml:tass.com:20201126:russia-belarus-normalize",
            1,
            headline_004,
            lines_004[start - 1].strip(),
            lines_004[start:],
            "2020-11-26T17:05:00+03:00",
            "Minsk",
            [("11000000", "politics"), ("20000638", "diplomacy")],
        )
    )


def build(seeds: Path, out: Path) -> None:
    s000, s001, s002, s003, s004 = (_read(seeds, f"00{i}") for i in range(5))
    spin_at = next(i for i, line in enumerate(s001) if line.startswith("rewrite this title"))
    original_001 = _paragraphs(s001[1:spin_at])
    spun_001 = _paragraphs(s001[1:])

    stories: dict[str, dict[str, Any]] = {
        "000": dict(
            site="eastwire.example",
            path="/world/2020/11/07/lukashenko-us-elections",
            title="Lukashenko does not expect Belarus-US relations to change after US vote",
            paras=_paragraphs(s000),
            published="2020-11-07T10:15:00Z",
            rfc822="Sat, 07 Nov 2020 10:15:00 GMT",
            author="TASS",
            cats=["World"],
        ),
        "004": dict(
            site="eastwire.example",
            path="/world/2020/11/26/russia-belarus-normalize",
            title="Russia expects situation in Belarus to normalize soon",
            paras=_paragraphs(s004),
            published="2020-11-26T14:40:00Z",
            rfc822="Thu, 26 Nov 2020 14:40:00 GMT",
            author="TASS",
            cats=["World"],
        ),
        "002": dict(
            site="europe-desk.example",
            path="/belarus/opposition-relations-russia",
            title=s002[0].strip(),
            paras=_paragraphs(s002[1:]),
            published="2020-11-27T08:05:00Z",
            rfc822="Fri, 27 Nov 2020 08:05:00 GMT",
            author="Europe Desk staff",
            cats=["Belarus", "Politics"],
        ),
        "001": dict(
            site="europe-desk.example",
            path="/russia/closer-cooperation-belarus",
            title=s001[0].strip(),
            paras=original_001,
            published="2025-01-27T09:30:00Z",
            rfc822="Mon, 27 Jan 2025 09:30:00 GMT",
            author="Europe Desk staff",
            cats=["Russia"],
        ),
        "001-spun": dict(
            site="newsfarm.example",
            path="/trending/russia-plans-closer-cooperation",
            title=s001[0].strip(),
            paras=spun_001,
            published="2025-01-27T16:00:00Z",
            rfc822="Mon, 27 Jan 2025 16:00:00 GMT",
            author="NewsFarm",
            cats=[],
        ),
        "003": dict(
            site="straits-daily.example",
            path="/world/europe/lukashenko-says-us-ties-could-improve",
            title="Lukashenko says ties with US could improve if it admits 2020 defeat",
            paras=_paragraphs(s003),
            published="2025-12-18T03:20:00Z",
            rfc822="Thu, 18 Dec 2025 03:20:00 GMT",
            author="Reuters",
            cats=["World", "Europe"],
        ),
    }

    def item(key: str, link_suffix: str = "") -> dict:
        s = stories[key]
        link = f"https://{s['site']}{s['path']}{link_suffix}"
        return dict(
            title=s["title"],
            link=link,
            guid=f"https://{s['site']}{s['path']}",
            iso=s["published"],
            rfc822=s["rfc822"],
            cats=s["cats"],
            summary=s["paras"][0][:240],
            author=s["author"],
        )

    missing = dict(
        title="Minsk metro extends night service",
        summary="The Minsk metro ...",
        link="https://newsfarm.example/trending/minsk-metro-night-service",
        guid="https://newsfarm.example/trending/minsk-metro-night-service",
        iso="2025-01-28T07:00:00Z",
        rfc822="Tue, 28 Jan 2025 07:00:00 GMT",
    )

    feeds = {
        "https://eastwire.example/rss.xml": (
            "application/rss+xml",
            rss2("eastwire.example", [item("000"), item("004")]),
        ),
        "https://straits-daily.example/atom.xml": (
            "application/atom+xml",
            atom("straits-daily.example", [item("003")]),
        ),
        "https://newsfarm.example/index.rdf": (
            "application/rdf+xml",
            rdf("newsfarm.example", [item("001-spun"), missing]),
        ),
        "https://europe-desk.example/feed.xml": (
            "application/rss+xml",
            rss2(
                "europe-desk.example",
                [item("002"), item("001"), item("003", "?utm_source=europe-desk&utm_medium=rss")],
            ),
        ),
    }

    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=False)

    def record(url: str, status: str, content_type: str, body: bytes) -> None:
        headers = StatusAndHeaders(
            status,
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
            ],
            protocol="HTTP/1.1",
        )
        rec = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=headers,
            warc_headers_dict={"WARC-Date": FETCHED_AT},
        )
        writer.write_record(rec)

    for url, (ctype, body) in feeds.items():
        record(url, "200 OK", ctype, body)
    for key in ("000", "004", "002", "001", "001-spun", "003"):
        s = stories[key]
        body = page(
            s["site"],
            s["path"],
            s["title"],
            s["paras"],
            s["published"],
            s["author"],
            keywords=", ".join(s["cats"]),
        )
        record(f"https://{s['site']}{s['path']}", "200 OK", "text/html; charset=utf-8", body)
    not_found = b"<html><body><h1>404 Not Found</h1><p>The page was not found.</p></body></html>"
    record(missing["link"], "404 Not Found", "text/html; charset=utf-8", not_found)

    (out / "sample.warc").write_bytes(buffer.getvalue())
    write_wire(s000, s004, out)
    feed_list = {
        "feeds": [
            {"url": "https://eastwire.example/rss.xml", "name": "East Wire", "tags": ["wire"]},
            {"url": "https://straits-daily.example/atom.xml", "name": "The Straits Daily"},
            {"url": "https://newsfarm.example/index.rdf", "name": "NewsFarm Daily"},
            {
                "url": "https://europe-desk.example/feed.xml",
                "name": "Europe Desk",
                "language": "en",
                "tags": ["europe"],
            },
        ]
    }
    header = "# Bundled sample feed list (built by tools/make_sample.py).\n"
    (out / "feeds.yaml").write_text(header + yaml.safe_dump(feed_list, sort_keys=False))


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
