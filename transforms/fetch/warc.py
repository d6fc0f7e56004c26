"""Capture to and replay from WARC files, so a run can be repeated exactly, offline.

``WarcRecorder`` receives every raw exchange of an :class:`transforms.fetch.http.HttpClient` (feeds,
robots.txt and pages, one record per hop, redirects included) and writes standard WARC/1.1
``response`` records with warcio: the request URL (``WARC-Target-URI``), status line, headers and
the body as received (still content-encoded; ``Transfer-Encoding`` is undone so the record is
self-describing), dated with ``WARC-Date`` = the client's ``fetched_at``. Hops that fail without a
response (timeouts, refused connections, guard or robots refusals) are written as small
``metadata`` records carrying the reason, so a replay ends exactly where the capture did.
Cookies are not archived (``Set-Cookie`` is dropped); bodies cut at the size cap are marked
``WARC-Truncated: length`` and replay as ``too_large``.

Files go through Beam's ``FileSystems`` (local or ``gs://``) under a name unique to the worker
and bundle, written as ``*.warc.gz.inprogress`` and renamed when the bundle finishes, so a
replay never reads a half-written file.

``WarcArchive`` is the other side: it indexes one WARC file, a folder or a glob (plain or
gzipped, ours or any warcio-readable crawl) and answers ``exchange(url)`` with the recorded
status, headers and body. The archive's ``WARC-Date`` becomes ``fetched_at``, which is what makes
replayed runs repeat byte for byte. When a URL was recorded more than once, the latest record
wins (ties: later file, later offset), i.e. the answer a retried capture ended with; a URL
fetched several times in one capture therefore replays as its last answer, with that date.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import threading
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from transforms.core.timefmt import parse_iso, utc_iso
from transforms.fetch.http import (
    NOT_IN_ARCHIVE,
    REASONS,
    FetchError,
    RawResponse,
)

logger = logging.getLogger(__name__)

ERROR_CONTENT_TYPE = "application/vnd.wirestream.fetch-error+json"
WARC_SUFFIXES = (".warc", ".warc.gz")
_INPROGRESS = ".inprogress"
# A response that HTTP framed only by the connection closing (see RawResponse), so a replay
# judges its completeness as the live run did.
CLOSE_DELIMITED = "WARC-Wirestream-Close-Delimited"
_DROPPED_HEADERS = frozenset({"set-cookie", "set-cookie2", "transfer-encoding", "content-length"})
_GLOB = re.compile(r"[*?\[]")


def warc_date(iso: str | None) -> str:
    """Second-precision WARC-Date from our ISO strings (they already are, but be strict)."""
    return normalise_date(iso)


def normalise_date(value: str | None) -> str:
    """Any WARC-Date (fractional seconds, offsets) as second-precision ISO 8601 UTC."""
    if not value:
        return "1970-01-01T00:00:00Z"
    moment = parse_iso(value.strip())
    if moment is None:
        return value.strip()[:19] + "Z"
    return utc_iso(moment)


def archive_key(url: str) -> str:
    """The form in which URLs are looked up: no fragment, '/' for an empty path, host lower and
    in its IDNA 2008 form (so a capture that spelled ``faß.de`` in Unicode still answers the
    client, which asks for ``xn--fa-hia.de``)."""
    url = url.strip().strip("<>")
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.lower()
    if not netloc.isascii():
        from transforms.core.urls import idna_host

        host, sep, port = netloc.rpartition(":") if "]" not in netloc else (netloc, "", "")
        if not port.isdigit():
            host, sep, port = netloc, "", ""
        with contextlib.suppress(UnicodeError):
            netloc = idna_host(host) + sep + port
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


class WarcRecorder:
    """Thread-safe WARC writer for one bundle; ``close()`` publishes the file.

    Nothing is created until the first record, so bundles without fetches leave no files.
    """

    def __init__(self, directory: str, prefix: str = "wirestream") -> None:
        self.directory = directory.rstrip("/")
        self.prefix = prefix
        self._token = uuid.uuid4().hex[:16]  # per-worker uniqueness only; never in any output
        self._seq = 0
        self._lock = threading.Lock()
        self._handle: Any = None
        self._writer: Any = None
        self._path: str | None = None
        self.records = 0
        self.published: list[str] = []

    # -- Recorder protocol ---------------------------------------------------------------------

    def record_response(self, raw: RawResponse, request_headers: Sequence[tuple[str, str]]) -> None:
        from warcio.statusandheaders import StatusAndHeaders

        headers = [(k, v) for k, v in raw.headers if k.lower() not in _DROPPED_HEADERS]
        headers.append(("Content-Length", str(len(raw.raw_body))))
        http_headers = StatusAndHeaders(
            f"{raw.status} {raw.reason}".strip(), headers, protocol="HTTP/1.1"
        )
        warc_headers = {"WARC-Date": warc_date(raw.fetched_at)}
        if raw.truncated:
            warc_headers["WARC-Truncated"] = raw.truncated
        if raw.close_delimited:  # the archived headers get a Content-Length: keep the fact
            warc_headers[CLOSE_DELIMITED] = "true"
        self._write(
            raw.url,
            "response",
            raw.raw_body,
            warc_headers=warc_headers,
            http_headers=http_headers,
        )

    def record_error(self, url: str, error: FetchError) -> None:
        payload = json.dumps(
            {
                "reason": error.reason,
                "detail": error.detail,
                "status": error.status,
                "retryable": error.retryable,
            },
            sort_keys=True,
        ).encode()
        self._write(
            url,
            "metadata",
            payload,
            warc_headers={"WARC-Date": warc_date(error.at)},
            content_type=ERROR_CONTENT_TYPE,
        )

    # -- files ---------------------------------------------------------------------------------

    def _write(
        self,
        url: str,
        record_type: str,
        payload: bytes,
        *,
        warc_headers: dict[str, str],
        http_headers: Any = None,
        content_type: str = "",
    ) -> None:
        with self._lock:
            writer = self._open()
            record = writer.create_warc_record(
                url,
                record_type,
                payload=io.BytesIO(payload),
                length=len(payload),
                warc_content_type=content_type,
                warc_headers_dict=warc_headers,
                http_headers=http_headers,
            )
            writer.write_record(record)
            self.records += 1

    def _open(self) -> Any:
        if self._writer is not None:
            return self._writer
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems
        from warcio.warcwriter import WARCWriter

        self._seq += 1
        name = f"{self.prefix}-{self._token}-{self._seq:05d}.warc.gz"
        self._path = FileSystems.join(self.directory, name)
        self._handle = FileSystems.create(
            self._path + _INPROGRESS,
            mime_type="application/warc",
            compression_type=CompressionTypes.UNCOMPRESSED,
        )
        self._writer = WARCWriter(self._handle, gzip=True, warc_version="WARC/1.1")
        info = self._writer.create_warcinfo_record(
            name, {"software": "wirestream", "format": "WARC File Format 1.1"}
        )
        self._writer.write_record(info)
        return self._writer

    def close(self) -> str | None:
        """Finish the current file and give it its final name; returns that name."""
        from apache_beam.io.filesystems import FileSystems

        with self._lock:
            if self._writer is None:
                return None
            self._handle.close()
            assert self._path is not None
            FileSystems.rename([self._path + _INPROGRESS], [self._path])
            published, self._path = self._path, None
            self._writer = self._handle = None
            self.published.append(published)
            return published


class WarcArchive:
    """Replayer over WARC files: ``exchange(url, max_bytes)`` -> recorded :class:`RawResponse`."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.paths = find_warc_files(location)
        if not self.paths:
            raise FileNotFoundError(f"--replay {location}: no WARC file found there")
        # key -> (warc date, file index, offset, record type)
        self._index: dict[str, tuple[str, int, int, str]] = {}
        self._handles: dict[int, Any] = {}
        self._locks = [threading.Lock() for _ in self.paths]
        self._build_index()
        dates = sorted(entry[0] for entry in self._index.values())
        # ``at`` for URLs that are not in the archive: deterministic for a given archive
        self.archived_at = dates[0] if dates else "1970-01-01T00:00:00Z"

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, url: str) -> bool:
        return archive_key(url) in self._index

    def urls(self) -> list[str]:
        return sorted(self._index)

    def _build_index(self) -> None:
        from warcio.archiveiterator import ArchiveIterator

        for number, path in enumerate(self.paths):
            with _open_raw(path) as handle:
                iterator = ArchiveIterator(handle)
                for record in iterator:
                    kind = record.rec_type
                    if kind not in ("response", "metadata"):
                        continue
                    if kind == "metadata" and not (
                        record.rec_headers.get_header("Content-Type", "").startswith(
                            ERROR_CONTENT_TYPE
                        )
                    ):
                        continue
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    if not uri:
                        continue
                    date = normalise_date(record.rec_headers.get_header("WARC-Date"))
                    entry = (date, number, iterator.get_record_offset(), kind)
                    key = archive_key(uri)
                    previous = self._index.get(key)
                    if previous is None or entry[:3] >= previous[:3]:
                        self._index[key] = entry

    def exchange(self, url: str, max_bytes: int) -> RawResponse:
        entry = self._index.get(archive_key(url))
        if entry is None:
            raise FetchError(NOT_IN_ARCHIVE, url, "not in the replay archive", at=self.archived_at)
        date, number, offset, kind = entry
        from warcio.archiveiterator import ArchiveIterator

        with self._locks[number]:
            handle = self._handles.get(number)
            if handle is None:
                handle = self._handles[number] = _open_raw(self.paths[number])
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle)))
            if kind == "metadata":
                info = json.loads(record.content_stream().read(64 * 1024) or b"{}")
                reason = info.get("reason") if info.get("reason") in REASONS else NOT_IN_ARCHIVE
                raise FetchError(
                    reason,
                    url,
                    str(info.get("detail", "")),
                    status=info.get("status"),
                    retryable=False,
                    at=date,
                )
            status = int(record.http_headers.get_statuscode() or 0)
            reason_phrase = record.http_headers.statusline
            headers = list(record.http_headers.headers)
            stream = record.content_stream()
            body = stream.read(max_bytes + 1)
            truncated = record.rec_headers.get_header("WARC-Truncated")
            close_delimited = record.rec_headers.get_header(CLOSE_DELIMITED) == "true"
        if len(body) > max_bytes:
            truncated = truncated or "length"
            body = body[:max_bytes]
        return RawResponse(
            url=url,
            status=status,
            reason=_reason_phrase(reason_phrase),
            headers=[(k, v) for k, v in headers if k.lower() != "transfer-encoding"],
            body=body,
            raw_body=b"",
            fetched_at=date,
            truncated=truncated,
            from_archive=True,
            close_delimited=close_delimited,
        )

    def close(self) -> None:
        for number, handle in list(self._handles.items()):
            with self._locks[number]:
                handle.close()
        self._handles.clear()


def _reason_phrase(status_line: Any) -> str:
    text = str(status_line or "")
    return text.split(" ", 1)[1] if " " in text else ""


def _open_raw(path: str) -> Any:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    # UNCOMPRESSED: warcio reads per-record gzip members itself, and offsets must be raw.
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def find_warc_files(location: str) -> list[str]:
    """A WARC file, a folder of them (recursively) or a glob, in sorted order."""
    from apache_beam.io.filesystems import FileSystems

    if _GLOB.search(location) or location.endswith(WARC_SUFFIXES):
        pattern = location
    else:
        pattern = location.rstrip("/") + "/**"
    found = sorted(
        meta.path
        for result in FileSystems.match([pattern])
        for meta in result.metadata_list
        if meta.path.endswith(WARC_SUFFIXES)
    )
    return found


_SHARED: dict[str, WarcArchive] = {}
_SHARED_LOCK = threading.Lock()


def shared_archive(location: str) -> WarcArchive:
    """One index per process and location: every DoFn instance and thread of a worker shares it
    (it is read-only and thread-safe), instead of each re-reading the whole archive."""
    with _SHARED_LOCK:
        archive = _SHARED.get(location)
        if archive is None:
            archive = _SHARED[location] = WarcArchive(location)
        return archive


def archived_responses(path: str) -> dict[str, tuple[int, dict[str, str], bytes]]:
    """URL -> (status, headers without Content-Length, body) of every response in one WARC file.

    For serving an archive again over local HTTP (test and demo servers), where the server sets
    its own Content-Length.
    """
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    from warcio.archiveiterator import ArchiveIterator

    responses: dict[str, tuple[int, dict[str, str], bytes]] = {}
    with FileSystems.open(str(path), compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            headers = {
                k: v for k, v in record.http_headers.headers if k.lower() != "content-length"
            }
            status = int(record.http_headers.get_statuscode())
            responses[url] = (status, headers, record.content_stream().read())
    return responses
