"""FetchArticles: turn feed entries into fetched article pages, or dead letters.

Fetching goes through one ``Fetcher`` per worker (built in ``DoFn.setup``): a pooled HTTP
session with connect/read timeouts and a body-size cap, or, with ``--replay``, a WARC archive
read once per worker. Replay serves the recorded status, headers and body, and the record's
WARC-Date becomes ``fetched_at``, which is what makes replayed runs byte-for-byte repeatable.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.records import DeadLetter, FeedEntry, FetchedPage, now_iso

LOG = logging.getLogger(__name__)
NAMESPACE = "wirestream"

# Dead-letter reasons of the fetch stage (the fixed vocabulary is documented in the README).
REASON_TIMEOUT = "timeout"
REASON_CONNECT = "connect_error"
REASON_HTTP_4XX = "http_4xx"
REASON_HTTP_5XX = "http_5xx"
REASON_TOO_LARGE = "too_large"
REASON_NOT_HTML = "not_html"
REASON_NOT_IN_ARCHIVE = "not_in_archive"
REASON_BAD_URL = "bad_url"
REASON_BLOCKED = "blocked_address"
REASON_DNS = "dns_error"


@dataclass(frozen=True)
class FetchConfig:
    replay: str | None = None
    user_agent: str = "wirestream/0.1 (+https://github.com/wirestream/wirestream)"
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_bytes: int = 5_000_000
    allow_private_networks: bool = False


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str


class FetchError(Exception):
    """A fetch that ended without a usable response; ``reason`` is from the fixed vocabulary."""

    def __init__(self, reason: str, message: str, at: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.at = at


class ReplayArchive:
    """URL -> recorded response, read from one or more WARC files (local or ``gs://``)."""

    def __init__(self, pattern: str) -> None:
        from apache_beam.io.filesystems import FileSystems
        from warcio.archiveiterator import ArchiveIterator

        self._responses: dict[str, Response] = {}
        self.archived_at = "1970-01-01T00:00:00Z"
        paths = sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
        if not paths:
            raise FileNotFoundError(f"--replay {pattern}: no WARC file matches")
        for path in paths:
            with FileSystems.open(path) as handle:
                for record in ArchiveIterator(handle):
                    if record.rec_type != "response":
                        continue
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    headers = {k.lower(): v for k, v in record.http_headers.headers}
                    self._responses.setdefault(
                        url,
                        Response(
                            url=url,
                            status=int(record.http_headers.get_statuscode()),
                            headers=headers,
                            body=record.content_stream().read(),
                            fetched_at=record.rec_headers.get_header("WARC-Date"),
                        ),
                    )

        if self._responses:
            self.archived_at = min(r.fetched_at for r in self._responses.values())

    def get(self, url: str) -> Response:
        try:
            return self._responses[url]
        except KeyError:
            raise FetchError(
                REASON_NOT_IN_ARCHIVE, f"{url} is not in the replay archive", at=self.archived_at
            ) from None


class Fetcher:
    """One per worker: network or replay, with the same error vocabulary either way."""

    def __init__(self, config: FetchConfig) -> None:
        self.config = config
        self._archive = ReplayArchive(config.replay) if config.replay else None
        self._session = None

    def get(self, url: str) -> Response:
        response = self._archive.get(url) if self._archive is not None else self._get_network(url)
        if 400 <= response.status < 500:
            raise FetchError(
                REASON_HTTP_4XX, f"HTTP {response.status} for {url}", response.fetched_at
            )
        if response.status >= 500:
            raise FetchError(
                REASON_HTTP_5XX, f"HTTP {response.status} for {url}", response.fetched_at
            )
        return response

    def _get_network(self, url: str) -> Response:
        import requests

        if not url.startswith(("http://", "https://")):
            raise FetchError(REASON_BAD_URL, f"not an http(s) URL: {url!r}")
        if not self.config.allow_private_networks:
            check_public(url)
        if self._session is None:
            self._session = requests.Session()
            self._session.headers["User-Agent"] = self.config.user_agent
        try:
            with self._session.get(
                url, timeout=(self.config.connect_timeout, self.config.read_timeout), stream=True
            ) as reply:
                chunks: list[bytes] = []
                size = 0
                for chunk in reply.iter_content(65536):
                    size += len(chunk)
                    if size > self.config.max_bytes:
                        raise FetchError(
                            REASON_TOO_LARGE, f"body exceeds {self.config.max_bytes} bytes"
                        )
                    chunks.append(chunk)
                return Response(
                    url=reply.url,
                    status=reply.status_code,
                    headers={k.lower(): v for k, v in reply.headers.items()},
                    body=b"".join(chunks),
                    fetched_at=now_iso(),
                )
        except requests.Timeout as err:
            raise FetchError(REASON_TIMEOUT, str(err)) from err
        except requests.ConnectionError as err:
            raise FetchError(REASON_CONNECT, str(err)) from err


def check_public(url: str) -> None:
    """Refuse hosts that resolve to loopback, private, link-local or reserved addresses."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as err:
        raise FetchError(REASON_DNS, f"cannot resolve {host!r}: {err}") from err
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise FetchError(REASON_BLOCKED, f"{host!r} resolves to non-public {address}")


def decode_html(body: bytes, content_type: str) -> tuple[str, str]:
    """Decode with the header charset, then the BOM/meta/detection fallback of ``requests``."""
    from requests.utils import get_encoding_from_headers

    declared = get_encoding_from_headers({"content-type": content_type}) if content_type else None
    for encoding in (declared, "utf-8"):
        if not encoding:
            continue
        try:
            return body.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace"), "cp1252"


class FetchPageFn(beam.DoFn):
    DEAD = "dead"

    def __init__(self, config: FetchConfig) -> None:
        self.config = config
        self.fetched = Metrics.counter(NAMESPACE, "fetch_ok")
        self.failed = Metrics.counter(NAMESPACE, "fetch_dead")
        self.page_bytes = Metrics.distribution(NAMESPACE, "fetch_page_bytes")

    def setup(self) -> None:
        self.fetcher = Fetcher(self.config)

    def process(self, entry: FeedEntry) -> Iterator:
        try:
            response = self.fetcher.get(entry.url)
            content_type = response.headers.get("content-type", "")
            if content_type and "html" not in content_type.lower():
                raise FetchError(
                    REASON_NOT_HTML,
                    f"content type {content_type!r} is not HTML",
                    response.fetched_at,
                )
            html, encoding = decode_html(response.body, content_type)
        except FetchError as err:
            self.failed.inc()
            Metrics.counter(NAMESPACE, f"fetch_dead_{err.reason}").inc()
            yield beam.pvalue.TaggedOutput(
                self.DEAD,
                DeadLetter(
                    stage="fetch",
                    reason=err.reason,
                    url=entry.url,
                    error=str(err),
                    entry_id=entry.entry_id,
                    feed_url=entry.feed_url,
                    at=err.at or now_iso(),
                ),
            )
            return
        self.fetched.inc()
        self.page_bytes.update(len(response.body))
        yield FetchedPage(
            entry=entry,
            final_url=response.url,
            status=response.status,
            content_type=content_type,
            html=html,
            fetched_at=response.fetched_at,
            encoding=encoding,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )


class FetchArticles(beam.PTransform):
    """FeedEntry -> {"ok": FetchedPage, "dead": DeadLetter}."""

    def __init__(self, config: FetchConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, entries):
        results = entries | "FetchPage" >> beam.ParDo(FetchPageFn(self.config)).with_outputs(
            FetchPageFn.DEAD, main="ok"
        )
        return {"ok": results.ok, "dead": results[FetchPageFn.DEAD]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fetching")
    group.add_argument(
        "--replay",
        default=None,
        help="Serve every fetch (feeds and pages) from this WARC file or glob instead of the "
        "network; fetched_at comes from the archive, so runs repeat exactly.",
    )
    group.add_argument(
        "--http_user_agent",
        default=FetchConfig.user_agent,
        help="User-Agent sent with every request; include a contact URL.",
    )
    group.add_argument(
        "--allow_private_networks",
        action="store_true",
        help="Allow fetching from loopback and private addresses (local testing only; off by "
        "default so feeds cannot point the job at internal or metadata services).",
    )
    group.add_argument(
        "--max_bytes",
        type=int,
        default=FetchConfig.max_bytes,
        help="Largest response body accepted, in bytes; larger ones are dead letters (too_large).",
    )


def config_from_options(options) -> FetchConfig:
    opts = options.get_all_options()
    return FetchConfig(
        replay=opts.get("replay"),
        user_agent=opts.get("http_user_agent") or FetchConfig.user_agent,
        max_bytes=opts.get("max_bytes") or FetchConfig.max_bytes,
        allow_private_networks=bool(opts.get("allow_private_networks")),
    )
