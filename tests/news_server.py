"""A small news site on 127.0.0.1 for whole-pipeline accounting tests: feeds, articles, redirects,
and routes that stall until the test lets them go.

Routes are set by the test (``routes[path] = (status, headers, body)``, matched with the query
first, then without it); a path listed in
``stalls`` holds its answer until its event is set or the server stops, which gives a crash test
a real point in time ("the run is fetching now") without any hook inside the pipeline.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter

from tests.textgen import NEWS_WORDS
from tools.loopback import LoopbackServer, QuietHandler

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}


def article_html(seed: int, title: str) -> bytes:
    """A plain article page whose text is its own (no two seeds are near-duplicates)."""
    rng = random.Random(seed)
    paragraphs = [
        " ".join(rng.choice(NEWS_WORDS) for _ in range(60)).capitalize() + "." for _ in range(4)
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def rss(items: list[tuple[str, str, str]], title: str = "Feed") -> bytes:
    """RSS 2.0 from (guid, link, title) triples; links are written as given (escaped)."""
    from xml.sax.saxutils import escape

    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<guid isPermaLink='false'>{escape(guid)}</guid></item>"
        for guid, link, t in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title>{body}</channel></rss>"
    ).encode()


class NewsServer(LoopbackServer):
    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.stalls: dict[str, threading.Event] = {}
        self.requests: Counter[str] = Counter()
        self.stalled = threading.Event()  # set once any stalled route has been requested
        self.stopping = threading.Event()
        super().__init__(self._handler())

    def url(self, path: str) -> str:
        return self.base + path

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for event in self.stalls.values():
            event.set()
        super().__exit__(*exc)

    def _handler(self) -> type[QuietHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                if self.path == "/robots.txt":
                    self.send_body(404, {"Content-Type": "text/plain"}, b"")
                    return
                gate = server.stalls.get(self.path)
                if gate is not None:
                    server.stalled.set()
                    while not gate.wait(0.1):
                        if server.stopping.is_set():
                            return
                route = server.routes.get(self.path)
                if route is None:  # pages are routed by path, whatever their query
                    route = server.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_body(404, HTML_TYPE, b"not found")
                    return
                status, headers, body = route
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_body(status, headers, body)

        return Handler
