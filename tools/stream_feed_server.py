"""A local news site for streaming runs: feeds that publish new items over time, on 127.0.0.1.

The article pages are the bundled sample archive's (``transforms/data/sample/sample.warc``),
served at ``http://127.0.0.1:<port>/<site>/<path>``. The feeds are RSS 2.0 documents made on
each request from a release schedule: an item appears in its feed once its release time (seconds
after the server started, divided by ``speed``) has passed, with that moment as ``pubDate``
unless the schedule gives it an older one (a late story). Feed responses carry an ``ETag`` and
``Last-Modified`` and answer a matching conditional GET with 304, as real feed servers do.

The default schedule publishes the sample's stories in waves 10 s apart; the later waves hold the
content farm's spun copy of an earlier story (identical once cleaned: an exact copy), a digest
site's rewrite of another (a new headline and a few words changed: a near-duplicate that only
the MinHash dedup finds), an article already listed by another feed (the same URL again, in a
later window), a story whose published time is older than the allowed lateness, and a link that
answers 404.

A rewrite (``REWRITES``) is made from an archived page when the server starts: its canonical URL
becomes the rewrite's own and each listed phrase is replaced, so it is a different article with
almost the same text.

Used by ``tools/stream_demo.py`` (``make stream-demo``) and the streaming end-to-end test.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tools.loopback import LoopbackServer, QuietHandler
from transforms.fetch.warc import archived_responses

SAMPLE_ARCHIVE = Path(__file__).resolve().parents[1] / "transforms/data/sample/sample.warc"


@dataclass(frozen=True)
class Release:
    at: float  # seconds after start (before dividing by speed)
    feed: str  # feed name: served at /feeds/<feed>.xml
    url: str  # the article's original URL in the archive
    title: str
    age_seconds: float = 0.0  # pubDate = release moment minus this


EASTWIRE = "https://eastwire.example"
EUROPE = "https://europe-desk.example"
STRAITS = "https://straits-daily.example"
FARM = "https://newsfarm.example"
DIGEST = "https://daily-digest.example"
REWRITE_URL = f"{DIGEST}/world/belarus-us-ties-unchanged"

DEFAULT_SCHEDULE = (
    Release(0, "wire", f"{EASTWIRE}/world/2020/11/07/lukashenko-us-elections", "Lukashenko"),
    Release(0, "europe", f"{EUROPE}/russia/closer-cooperation-belarus", "Russia and Belarus"),
    Release(10, "europe", f"{EUROPE}/belarus/opposition-relations-russia", "Opposition"),
    Release(10, "wire", f"{EASTWIRE}/world/2020/11/26/russia-belarus-normalize", "Normalize"),
    Release(
        20,
        "straits",
        f"{STRAITS}/world/europe/lukashenko-says-us-ties-could-improve",
        "Late story",
        age_seconds=900,
    ),
    Release(30, "farm", f"{FARM}/trending/russia-plans-closer-cooperation", "Spun copy"),
    Release(40, "wire", f"{STRAITS}/world/europe/lukashenko-says-us-ties-could-improve", "Again"),
    Release(30, "farm", f"{FARM}/trending/minsk-metro-night-service", "Missing page"),
    Release(30, "digest", REWRITE_URL, "Rewrite"),
)
FEEDS = ("wire", "europe", "straits", "farm", "digest")


@dataclass(frozen=True)
class Rewrite:
    url: str  # where the rewritten page is served (as its original URL)
    source: str  # the archived page it rewrites
    changes: tuple[tuple[str, str], ...]  # phrase -> replacement, each must occur in the source


REWRITES = (
    Rewrite(
        REWRITE_URL,
        f"{EASTWIRE}/world/2020/11/07/lukashenko-us-elections",
        (
            (
                "Lukashenko does not expect Belarus-US relations to change after US vote",
                "Belarus leader sees no shift in ties with Washington after US election",
            ),
            ("East Wire", "Daily Digest"),
            ("believes that Belarusian-US relations", "thinks that relations with the US"),
            ("negatively assessed", "criticised"),
            ("headed to the polls", "went to vote"),
            ("is still not known", "remains unclear"),
            ("fierce clashes", "violent confrontations"),
        ),
    ),
)


def rewritten_pages(
    pages: dict[str, tuple[int, dict[str, str], bytes]], rewrites: tuple[Rewrite, ...] = REWRITES
) -> dict[str, tuple[int, dict[str, str], bytes]]:
    """The rewrites' pages, made from the archived pages they rewrite."""
    made = {}
    for rewrite in rewrites:
        status, headers, body = pages[rewrite.source]
        page = body.decode("utf-8").replace(rewrite.source, rewrite.url)
        for phrase, replacement in rewrite.changes:
            if phrase not in page:
                raise ValueError(f"rewrite of {rewrite.source}: {phrase!r} is not in the page")
            page = page.replace(phrase, replacement)
        made[rewrite.url] = (status, headers, page.encode("utf-8"))
    return made


class StreamFeedServer(LoopbackServer):
    def __init__(
        self,
        schedule: tuple[Release, ...] = DEFAULT_SCHEDULE,
        speed: float = 1.0,
        archive: Path = SAMPLE_ARCHIVE,
    ) -> None:
        self.schedule = schedule
        self.speed = speed
        self._pages = archived_responses(str(archive))
        self._pages.update(rewritten_pages(self._pages))
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()
        self._lock = threading.Lock()
        super().__init__(self._handler())
        self.started = time.time()

    def local_url(self, url: str) -> str:
        return self.base + "/" + url.split("://", 1)[1]

    def feed_url(self, feed: str) -> str:
        return f"{self.base}/feeds/{feed}.xml"

    def released(self, feed: str, now: float | None = None) -> list[Release]:
        elapsed = ((now or time.time()) - self.started) * self.speed
        return [r for r in self.schedule if r.feed == feed and r.at <= elapsed]

    def feed_document(self, feed: str, now: float | None = None) -> tuple[bytes, float]:
        """RSS 2.0 of the released items, newest first, and its last-modified time."""
        items = sorted(self.released(feed, now), key=lambda r: (-r.at, r.url))
        modified = self.started + (max((r.at for r in items), default=0) / self.speed)
        parts = []
        for release in items:
            published = self.started + release.at / self.speed - release.age_seconds
            link = html.escape(self.local_url(release.url))
            parts.append(
                f"<item><title>{html.escape(release.title)}</title><link>{link}</link>"
                f"<guid>{link}</guid>"
                f"<pubDate>{email.utils.formatdate(published, usegmt=True)}</pubDate></item>"
            )
        doc = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{feed}</title><link>{self.base}/</link><description>{feed}</description>"
            + "".join(parts)
            + "</channel></rss>\n"
        )
        return doc.encode("utf-8"), modified

    def write_feed_list(self, target: Path, poll_minutes: int = 1) -> Path:
        lines = ["feeds:"]
        for feed in FEEDS:
            lines += [
                f"  - url: {self.feed_url(feed)}",
                f"    name: {feed}",
                f"    poll_minutes: {poll_minutes}",
            ]
        target.write_text("\n".join(lines) + "\n")
        return target

    def _handler(self) -> type[QuietHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests[self.path] += 1
                if self.path.startswith("/feeds/") and self.path.endswith(".xml"):
                    self._feed(self.path[len("/feeds/") : -len(".xml")])
                    return
                original = "https://" + self.path.lstrip("/")
                if original not in server._pages:
                    self.send_error(404)
                    return
                status, headers, body = server._pages[original]
                self.send_body(status, headers, body)

            def _feed(self, feed: str) -> None:
                if feed not in FEEDS:
                    self.send_error(404)
                    return
                body, modified = server.feed_document(feed)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"):
                    with server._lock:
                        server.conditional[feed] += 1
                if self.headers.get("If-None-Match") == etag:
                    with server._lock:
                        server.not_modified[feed] += 1
                    self.send_not_modified(etag)
                    return
                headers = {
                    "Content-Type": "application/rss+xml; charset=utf-8",
                    "ETag": etag,
                    "Last-Modified": email.utils.formatdate(modified, usegmt=True),
                }
                self.send_body(200, headers, body)

        return Handler

    def __enter__(self) -> StreamFeedServer:
        self.started = time.time()  # the schedule runs from when serving starts
        return super().__enter__()
