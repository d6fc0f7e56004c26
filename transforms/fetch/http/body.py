"""Bodies: undo Content-Encoding within the size cap, refuse what is not a page or a feed, and
decode text the way browsers do.

* Decompression (gzip, deflate with or without the zlib header, brotli) runs chunk by chunk and
  never holds more than the cap, so a gzip bomb costs at most ``max_bytes``. A stream that ends
  before its end-of-stream marker is a truncated body, not a shorter page: ``bad_encoding``
  (the decompressor's ``eof`` is checked; ``flush()`` never raises on a cut stream).
* Charsets follow the WHATWG Encoding Standard through w3lib: labels are read as browsers read
  them (``gb2312`` is GBK/GB 18030, ``shift_jis`` is windows-31j, ``euc-kr`` and
  ``ks_c_5601-1987`` are windows-949, ``iso-8859-1`` is windows-1252, ``tis-620`` is
  windows-874, ``big5`` is Big5-HKSCS), in the order BOM, header, ``<meta>``/XML declaration,
  then detection. A declared charset that does not fit is tolerated for a small share of bad
  bytes (mixed encodings); beyond that detection decides, and text that still does not decode
  is ``bad_charset``.
"""

from __future__ import annotations

import codecs
import re
import zlib
from typing import Any

from transforms.fetch.http.errors import (
    BAD_CHARSET,
    BAD_ENCODING,
    NOT_FEED,
    NOT_HTML,
    TOO_LARGE,
    FetchError,
)

KIND_PAGE = "page"
KIND_FEED = "feed"
KIND_ROBOTS = "robots"
KINDS = (KIND_PAGE, KIND_FEED, KIND_ROBOTS)

CHUNK = 64 * 1024
SNIFF = 4096
# Content codings we can undo (and so advertise in Accept-Encoding).
ACCEPT_ENCODING = "gzip, deflate, br"

# C0 controls (except tab, LF, CR), DEL and NUL: never meaningful in HTML text.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]{0,200}?encoding\s*=", re.IGNORECASE)
_BINARY_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"RIFF", "audio/video/webp"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x7fELF", "application/x-executable"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FEED_TYPES_REJECTED_PREFIXES = ("image/", "audio/", "video/", "font/")
_FEED_TYPES_REJECTED = frozenset({"application/pdf", "application/zip", "application/gzip"})
# A refresh slower than this is a "reload every few minutes" page, not a redirect.
MAX_REFRESH_DELAY = 10.0
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)


class BoundedDecoder:
    """Undo Content-Encoding chunk by chunk without ever holding more than ``limit`` bytes.

    With ``truncate`` the output stops at ``limit`` instead of failing (robots.txt, where the
    first 500 KiB are what counts); ``truncated`` then says so.
    """

    def __init__(self, encoding: str, limit: int, url: str, *, truncate: bool = False) -> None:
        self.encoding = encoding.strip().lower()
        self.limit = limit
        self.url = url
        self.truncate = truncate
        self.truncated = False
        self.size = 0
        self.parts: list[bytes] = []
        self._fed = False
        self._first = True
        self._done = False
        self._obj: Any
        if self.encoding in ("", "identity", "none"):
            self._obj = None
        elif self.encoding in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        elif self.encoding == "br":
            import brotli

            self._obj = brotli.Decompressor()
        else:
            raise FetchError(BAD_ENCODING, url, f"unsupported Content-Encoding {encoding[:40]!r}")

    def _append(self, data: bytes) -> None:
        if self.truncated:
            return
        if self.size + len(data) > self.limit:
            if not self.truncate:
                raise FetchError(TOO_LARGE, self.url, f"decoded body exceeds {self.limit} bytes")
            data = data[: self.limit - self.size]
            self.truncated = True
        self.size += len(data)
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._fed = True
        if self._obj is None:
            self._append(chunk)
        elif self.encoding == "br":
            self._feed_brotli(chunk)
        else:
            self._feed_zlib(chunk)

    def _feed_brotli(self, chunk: bytes) -> None:
        import brotli

        if self._done:
            return
        data = chunk
        try:
            while True:
                out = self._obj.process(data, output_buffer_limit=CHUNK)
                data = b""
                self._append(out)
                if self.truncated or self._obj.can_accept_more_data():
                    break
        except brotli.error as exc:
            raise FetchError(BAD_ENCODING, self.url, f"corrupt br body: {exc}") from None
        self._done = self._obj.is_finished()

    def _feed_zlib(self, chunk: bytes) -> None:
        data = chunk
        while data and not self._done and not self.truncated:
            try:
                out = self._obj.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                if self._first and self.encoding == "deflate":
                    # Some servers send raw deflate without the zlib header.
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise FetchError(
                    BAD_ENCODING, self.url, f"corrupt {self.encoding} body: {exc}"
                ) from None
            self._first = False
            self._append(out)
            if self._obj.eof:
                rest = self._obj.unused_data
                if rest[:2] == b"\x1f\x8b" and self.encoding in ("gzip", "x-gzip"):
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
                    data = rest
                else:
                    self._done = True  # trailing garbage is ignored, as browsers do
                    data = b""
            else:
                data = self._obj.unconsumed_tail

    def finish(self) -> bytes:
        """The decoded body; a compressed stream cut before its end is ``bad_encoding``."""
        if self._obj is not None and self._fed and not self._done and not self.truncated:
            if self.encoding == "br":
                self._done = self._obj.is_finished()
            if not self._done:
                raise FetchError(
                    BAD_ENCODING, self.url, f"truncated {self.encoding} body (stream not ended)"
                )
        return b"".join(self.parts)


def decode_body(encoding: str, raw: bytes, limit: int, url: str) -> bytes:
    decoder = BoundedDecoder(encoding, limit, url)
    for start in range(0, len(raw), CHUNK):
        decoder.feed(raw[start : start + CHUNK])
    return decoder.finish()


def media_type(content_type: str | None) -> tuple[str, str | None]:
    """('text/html', 'utf-8') from 'text/html; charset="UTF-8"'."""
    if not content_type:
        return "", None
    mime, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").strip() or None
    return mime.strip().lower(), charset


def resolve_charset(label: str | None) -> str | None:
    """The Python codec browsers would use for a charset label (WHATWG mapping), or None."""
    if not label:
        return None
    from w3lib.encoding import resolve_encoding

    codec = resolve_encoding(label.strip().strip("\"'"))
    if codec is None:
        return None
    try:
        return codecs.lookup(codec).name
    except LookupError:
        return None


def sniff_binary(body: bytes, allow_nul: bool = False) -> str | None:
    head = body[:16].lstrip(b"\xef\xbb\xbf")
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    sample = body[:SNIFF]
    if sample and not allow_nul and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
        if controls > len(sample) // 10:
            return "binary data"
    return None


def check_page_type(url: str, mime: str, body: bytes, at: str, charset: str | None) -> None:
    if mime and mime not in _HTML_TYPES:
        raise FetchError(NOT_HTML, url, f"content type {mime[:60]!r} is not HTML", at=at)
    if not body.strip():
        raise FetchError(NOT_HTML, url, "empty body", at=at)
    wide = (charset or "").lower().replace("_", "-").startswith(("utf-16", "utf-32"))
    binary = sniff_binary(body, allow_nul=wide)
    if binary is not None:
        raise FetchError(NOT_HTML, url, f"body is {binary} despite {mime or 'no type'}", at=at)
    if not mime and b"<" not in body[:SNIFF] and not wide:
        raise FetchError(NOT_HTML, url, "no content type and no markup", at=at)


def check_feed_type(url: str, mime: str, body: bytes, at: str) -> None:
    if mime in _FEED_TYPES_REJECTED or mime.startswith(_FEED_TYPES_REJECTED_PREFIXES):
        raise FetchError(NOT_FEED, url, f"content type {mime[:60]!r} is not a feed", at=at)
    binary = sniff_binary(body)
    if binary is not None:
        raise FetchError(NOT_FEED, url, f"body is {binary}", at=at)
    if not body.strip():
        raise FetchError(NOT_FEED, url, "empty body", at=at)


def _candidates(body: bytes, header_charset: str | None) -> list[tuple[str, str]]:
    """(codec, source) in the WHATWG order: BOM, header, in-document declaration, default."""
    from w3lib.encoding import html_body_declared_encoding, read_bom

    candidates: list[tuple[str, str]] = []
    bom, _ = read_bom(body)
    if bom is not None and (codec := resolve_charset(bom)) is not None:
        # the codecs that consume the BOM themselves, so it never reaches the text
        codec = {"utf-8": "utf-8-sig"}.get(codec, codec[:6] if codec[:4] == "utf-" else codec)
        candidates.append((codec, "bom"))
    if (codec := resolve_charset(header_charset)) is not None:
        candidates.append((codec, "header"))
    declared = html_body_declared_encoding(body[:SNIFF])
    if (codec := resolve_charset(declared)) is not None:
        if codec.startswith("utf-16") and not candidates:
            codec = "utf-8"  # an ASCII-readable declaration cannot be UTF-16: the page lied
        candidates.append((codec, "xml" if _XML_DECL.match(body[:SNIFF]) else "meta"))
    candidates.append(("utf-8", "default"))
    return candidates


def decode_text(
    body: bytes, header_charset: str | None, *, kind: str, url: str, max_bad_ratio: float
) -> tuple[str, str, str]:
    """Decode to text: returns (text, codec, where the charset came from)."""
    tried: list[str] = []
    best: tuple[str, str, str] | None = None
    for codec, source in _candidates(body, header_charset):
        if codec in tried:
            continue
        tried.append(codec)
        try:
            return clean_text(body.decode(codec)), codec, source
        except UnicodeDecodeError:
            text = body.decode(codec, errors="replace")
            bad = text.count("\ufffd") - body.decode(codec, errors="ignore").count("\ufffd")
            if best is None and bad <= max(1, int(len(body) * max_bad_ratio)):
                best = (clean_text(text), codec, source)
    if best is not None and best[2] != "default":
        return best
    detected = _detect_charset(body)
    if detected is not None and detected not in tried:
        try:
            return clean_text(body.decode(detected)), detected, "detected"
        except UnicodeDecodeError:
            pass
    if best is not None:
        return best
    if kind == KIND_PAGE:
        raise FetchError(BAD_CHARSET, url, f"undecodable text (tried {', '.join(tried)})")
    return clean_text(body.decode("utf-8", errors="replace")), "utf-8", "default"


def _detect_charset(body: bytes) -> str | None:
    """Last-resort detection. Noise that only "decodes" as a language-less multibyte soup is
    refused (None), and windows-1252 wins near-ties because it is the web's legacy default."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(body[:200_000]))
    if not matches or matches[0].coherence <= 0.0:
        return None
    best = matches[0]
    for match in matches:
        if (
            resolve_charset(match.encoding) == "cp1252"
            and match.chaos <= best.chaos + 0.1
            and match.coherence >= best.coherence - 0.05
        ):
            return "cp1252"
    return resolve_charset(best.encoding)


def clean_text(text: str) -> str:
    """Text without C0 controls (tab, LF and CR kept) and DEL.

    A compiled character class: the same output as ``str.translate`` with a deletion table,
    several times faster on the mostly clean pages of the real web.
    """
    return _CONTROL_CHARS.sub("", text)


def meta_refresh(text: str, base_url: str) -> tuple[float, str] | None:
    """(delay, absolute URL) of a ``<meta http-equiv="refresh">`` redirect in the page's head,
    or None. Refreshes inside ``<script>``/``<noscript>`` are ignored, as Scrapy does."""
    from w3lib.html import get_meta_refresh

    head_end = _HEAD_END.search(text, 0, 256 * 1024)
    head = text[: head_end.start() if head_end else 64 * 1024]
    if "refresh" not in head.lower():
        return None
    try:
        delay, url = get_meta_refresh(head, base_url)
    except (ValueError, TypeError):
        return None
    if delay is None or url is None:
        return None
    return float(delay), url


def excerpt(body: bytes, limit: int = 300) -> str:
    text = body[: limit * 4].decode("utf-8", errors="replace")[:limit]
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text)
