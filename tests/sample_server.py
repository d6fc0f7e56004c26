"""Serve the bundled sample archive from a real HTTP server on 127.0.0.1.

Every archived response for ``https://<site>/<path>`` is served at
``http://127.0.0.1:<port>/<site>/<path>`` with its recorded status and headers; links inside feed
documents are rewritten the same way, so the pipeline can run the sample over real HTTP, with no
replay, and no request ever leaves the machine.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from tools.loopback import LoopbackServer, QuietHandler
from transforms.fetch.warc import archived_responses


class SampleServer(LoopbackServer):
    def __init__(self, archive: Path) -> None:
        self._records = archived_responses(archive)
        self.requests: Counter[str] = Counter()
        self.missing: set[str] = set()  # paths answered 404 while listed (failures to retry)
        super().__init__(self._handler())

    def local_url(self, url: str) -> str:
        return self.base + "/" + url.split("://", 1)[1]

    def _rewrite(self, body: bytes) -> bytes:
        for scheme in (b"https://", b"http://"):
            for url in sorted({u.split("/")[2] for u in self._records}):
                body = body.replace(scheme + url.encode(), f"{self.base}/{url}".encode())
        return body

    def _handler(self) -> type[QuietHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                original = "https://" + self.path.lstrip("/")
                if original not in server._records or self.path in server.missing:
                    self.send_error(404)
                    return
                status, headers, body = server._records[original]
                if "xml" in headers.get("Content-Type", ""):
                    body = server._rewrite(body)
                self.send_body(status, headers, body)

        return Handler

    def write_feed_list(self, sample_feeds: Path, target: Path) -> Path:
        feeds = yaml.safe_load(sample_feeds.read_text())
        for feed in feeds["feeds"]:
            feed["url"] = self.local_url(feed["url"])
        target.write_text(yaml.safe_dump(feeds))
        return target
