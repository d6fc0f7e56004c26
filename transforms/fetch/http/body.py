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
from transforms.fetch.http.labels import is_replacement, standard_codec

KIND_PAGE = "page"
KIND_FEED = "feed"
KIND_ROBOTS = "robots"
KINDS = (KIND_PAGE, KIND_FEED, KIND_ROBOTS)

CHUNK = 64 * 1024
SNIFF = 4096
MAX_BAD_CHAR_RATIO = 0.01  # share of undecodable bytes tolerated under a label (mixed encodings)
# Content codings we can undo (and so advertise in Accept-Encoding).
ACCEPT_ENCODING = "gzip, deflate, br"

# C0 controls (except tab, LF, CR), DEL and NUL: never meaningful in HTML text.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same characters as bytes: UTF-8 writes U+0000-U+007F as those single bytes and every
# other code point with bytes >= 0x80 only, so a text's UTF-8 holds one of these bytes exactly
# when the text holds one of those characters.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
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
    """The Python codec browsers would use for a charset label, or None.

    The WHATWG label table first (``labels.py``: every standard label, superset codecs); a
    label the standard does not know is looked up in Python's registry through w3lib (``cp932``,
    ``euc_kr``...), since a server that names a codec Python knows means that codec.
    """
    if not label:
        return None
    cleaned = label.strip().strip("\"'").strip()
    known, codec = standard_codec(cleaned)
    if not known:
        from w3lib.encoding import resolve_encoding

        codec = resolve_encoding(cleaned)
    if codec is None:
        return None
    try:
        return codecs.lookup(codec).name
    except LookupError:
        return None


_ISO2022_CONTROLS = frozenset({0x0E, 0x0F, 0x1B})
# The bytes that count as binary in a sniffed sample: C0 controls but tab, LF, VT, FF, CR and
# those shifts and escapes. Counted with ``bytes.translate`` (one C loop over the sample) rather
# than a Python test per byte: the same count in a few microseconds instead of about 0.1 ms.
_BINARY_CONTROLS = bytes(b for b in range(32) if (b < 9 or b > 13) and b not in _ISO2022_CONTROLS)


def sniff_binary(body: bytes, allow_nul: bool = False) -> str | None:
    head = body[:16].lstrip(b"\xef\xbb\xbf")
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    sample = body[:SNIFF]
    if sample and not allow_nul and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        # SO, SI and ESC are ISO-2022 text's shifts and escapes (Japanese, Korean), not binary
        controls = len(sample) - len(sample.translate(None, _BINARY_CONTROLS))
        if controls > len(sample) // 10:
            return "binary data"
    return None


def _wide(body: bytes, charset: str | None) -> bool:
    """UTF-16/32 text, whose NUL bytes are characters, not binary: labelled so, or an XML
    declaration in UTF-16 (XML 1.0 Appendix F)."""
    label = (charset or "").lower().replace("_", "-")
    return label.startswith(("utf-16", "utf-32", "ucs-2", "unicode")) or body.startswith(
        tuple(prefix for prefix, _ in _UTF16_XML)
    )


def check_page_type(url: str, mime: str, body: bytes, at: str, charset: str | None) -> None:
    if mime and mime not in _HTML_TYPES:
        raise FetchError(NOT_HTML, url, f"content type {mime[:60]!r} is not HTML", at=at)
    if not body.strip():
        raise FetchError(NOT_HTML, url, "empty body", at=at)
    wide = _wide(body, charset)
    binary = sniff_binary(body, allow_nul=wide)
    if binary is not None:
        raise FetchError(NOT_HTML, url, f"body is {binary} despite {mime or 'no type'}", at=at)
    if not mime and b"<" not in body[:SNIFF] and not wide:
        raise FetchError(NOT_HTML, url, "no content type and no markup", at=at)


def check_feed_type(url: str, mime: str, body: bytes, at: str, charset: str | None = None) -> None:
    if mime in _FEED_TYPES_REJECTED or mime.startswith(_FEED_TYPES_REJECTED_PREFIXES):
        raise FetchError(NOT_FEED, url, f"content type {mime[:60]!r} is not a feed", at=at)
    binary = sniff_binary(body, allow_nul=_wide(body, charset))
    if binary is not None:
        raise FetchError(NOT_FEED, url, f"body is {binary}", at=at)
    if not body.strip():
        raise FetchError(NOT_FEED, url, "empty body", at=at)


# XML 1.0 Appendix F: a document without a BOM whose first characters are "<?" in UTF-16 says
# so itself (feeds, XHTML), even where no header names the charset.
_UTF16_XML = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
# Bytes beyond one per character that make valid UTF-8 a fact rather than a coincidence: text
# in a legacy encoding (cp1252 letters, double-byte CJK) is almost never valid UTF-8 as well.
UTF8_EVIDENCE_BYTES = 4


_DECLARED_LABEL = re.compile(
    rb"<meta\b[^>]{0,512}?charset\s*=\s*[\"']?\s*([\w.:+-]{1,40})"
    rb"|<\?xml\b[^>]{0,200}?encoding\s*=\s*[\"']\s*([\w.:+-]{1,40})",
    re.IGNORECASE,
)


def _declared_label(head: bytes) -> str | None:
    """The label a ``<meta>`` or XML declaration names, as written. w3lib's prescan answers
    only with labels its own table resolves, so a standard one it lacks (``windows-949``,
    ``x-euc-jp``) would otherwise be lost before the standard's table is asked."""
    found = _DECLARED_LABEL.search(head)
    if found is None:
        return None
    return (found.group(1) or found.group(2)).decode("ascii")


def _utf8_beyond_doubt(body: bytes) -> bool:
    """Valid UTF-8 with real multi-byte characters in it (not plain ASCII)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return len(body) - len(text) >= UTF8_EVIDENCE_BYTES


ISO2022JP = "iso2022_jp_ext"  # the WHATWG decoder reads JIS X 0201 katakana (ESC ( I) too
_ISO2022JP_ESCAPE = re.compile(rb"\x1b\$[@B]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _iso2022jp_beyond_doubt(body: bytes) -> bool:
    """7-bit bytes with JIS X 0208 designations (``ESC $ B``, ``ESC $ @``) in them."""
    return _ISO2022JP_ESCAPE.search(body) is not None and _HIGH_BYTE.search(body) is None


def _candidates(body: bytes, header_charset: str | None) -> list[tuple[str, str]]:
    """(codec, source) in the WHATWG order: BOM, header, in-document declaration, default.

    Two additions, both read from the bytes themselves: UTF-16 without a BOM where the XML
    declaration's own bytes show it (XML 1.0 Appendix F), and UTF-8 ahead of a legacy label
    when the body is valid UTF-8 with multi-byte characters in it: servers that still send
    their old default charset (``gbk``, ``shift_jis``, ``iso-8859-1``) for pages long since
    written in UTF-8 are common, and a superset codec such as GB 18030 would decode those
    bytes without a single error, into mojibake.
    """
    from w3lib.encoding import html_body_declared_encoding, read_bom

    candidates: list[tuple[str, str]] = []
    bom, _ = read_bom(body)
    if bom is not None and (codec := resolve_charset(bom)) is not None:
        # the codecs that consume the BOM themselves, so it never reaches the text
        codec = {"utf-8": "utf-8-sig"}.get(codec, codec[:6] if codec[:4] == "utf-" else codec)
        candidates.append((codec, "bom"))
    else:
        candidates += [(codec, "xml") for prefix, codec in _UTF16_XML if body.startswith(prefix)]
    labelled = bool(candidates)
    if not labelled and _iso2022jp_beyond_doubt(body):
        # ISO-2022-JP is 7-bit: under a UTF-8 (or no) label its bytes decode without an error
        # into ASCII with escape sequences, i.e. "$BEl5~" mojibake. Its JIS X 0208 escapes are
        # never text, so they say what the bytes are whatever the label claims.
        candidates.append((ISO2022JP, "detected"))
    header = resolve_charset(header_charset)
    declared = resolve_charset(html_body_declared_encoding(body[:SNIFF])) or resolve_charset(
        _declared_label(body[:SNIFF])
    )
    if declared is not None and declared.startswith("utf-16") and not labelled and not header:
        declared = "utf-8"  # an ASCII-readable declaration cannot be UTF-16: the page lied
    legacy = [c for c in (header, declared) if c is not None and not c.startswith("utf-")]
    if not labelled and legacy and _utf8_beyond_doubt(body):
        candidates.append(("utf-8", "detected"))
    if header is not None:
        candidates.append((header, "header"))
    if declared is not None:
        candidates.append((declared, "xml" if _XML_DECL.match(body[:SNIFF]) else "meta"))
    candidates.append(("utf-8", "default"))
    return candidates


def _replacement_labelled(body: bytes, header_charset: str | None) -> bool:
    """The label that decides (no BOM; the header's, else the document's own) names the
    standard's replacement encoding. Those labels are ignored nowhere in a browser: the page
    decodes to one U+FFFD. Skipping the label instead read the 7-bit ISO-2022-KR or HZ bytes as
    ASCII, escape sequences and all, into mojibake."""
    from w3lib.encoding import read_bom

    if read_bom(body)[0] is not None:
        return False
    if header_charset and standard_codec(header_charset.strip().strip("\"'"))[0]:
        return is_replacement(header_charset)
    return is_replacement(_declared_label(body[:SNIFF]))


def decode_text(
    body: bytes, header_charset: str | None, *, kind: str, url: str, max_bad_ratio: float
) -> tuple[str, str, str]:
    """Decode to text: returns (text, codec, where the charset came from).

    A declared charset that leaves a few undecodable bytes (at most ``max_bad_ratio``) is
    kept: mixed encodings happen. For a UTF-8 label only when the body shows it is UTF-8 (more
    multi-byte characters than bad bytes): a page declared UTF-8 whose few non-ASCII bytes are
    all invalid is in a legacy encoding (cp1252 accents, a short Korean title among kilobytes
    of markup), and reading it as "UTF-8 with stray bytes" turned every such character into
    U+FFFD; detection decides instead, with that reading kept as the last resort.
    """
    if kind == KIND_PAGE and _replacement_labelled(body, header_charset):
        raise FetchError(
            BAD_CHARSET,
            url,
            "labelled with an encoding the WHATWG standard decodes to nothing (replacement: "
            "ISO-2022-KR, ISO-2022-CN, HZ-GB-2312)",
        )
    tried: list[str] = []
    best: tuple[str, str, str] | None = None
    last_resort: tuple[str, str, str] | None = None
    suspect: tuple[str, str, str] | None = None
    for codec, source in _candidates(body, header_charset):
        if codec in tried:
            continue
        tried.append(codec)
        try:
            text = clean_text(body.decode(codec))
        except UnicodeDecodeError:
            text = body.decode(codec, errors="replace")
            bad = text.count("\ufffd") - body.decode(codec, errors="ignore").count("\ufffd")
            if bad > max(1, int(len(body) * max_bad_ratio)):
                continue
            if codec == "utf-8" and len(_MULTIBYTE.findall(text)) <= bad:
                last_resort = last_resort or (clean_text(text), codec, source)
            elif best is None:
                best = (clean_text(text), codec, source)
            continue
        if source in ("header", "meta", "xml") and _implausible(body, codec):
            # A double-byte label decodes most other double-byte text without an error (GBK
            # reads Big5 bytes, into private-use and rare characters): the label decides only
            # when detection finds nothing that reads as its own standard.
            suspect = suspect or (text, codec, source)
            continue
        return text, codec, source
    if best is not None and best[2] != "default":
        return best
    detected = _detect_charset(body)
    if detected is not None and (detected not in tried or suspect is not None):
        try:
            text = clean_text(body.decode(detected))
        except UnicodeDecodeError:
            pass
        else:
            if suspect is None or (detected != suspect[1] and not _implausible(body, detected)):
                return text, detected, "detected"
    for kept in (suspect, best, last_resort):
        if kept is not None:
            return kept
    if kind == KIND_PAGE:
        raise FetchError(BAD_CHARSET, url, f"undecodable text (tried {', '.join(tried)})")
    return clean_text(body.decode("utf-8", errors="replace")), "utf-8", "default"


_MULTIBYTE = re.compile("[^\x00-\x7f\ufffd]")


# The legacy standard at the core of each multi-byte codec detection may answer with. Real text
# in such a codec is nearly all in its core repertoire (KS X 1001, JIS X 0208, GB 2312, Big5);
# noise that merely decodes lands mostly in the rarely used extensions around it.
_CORE_REPERTOIRE = {
    "cp949": "euc_kr",
    "cp932": "shift_jis",
    "shift_jis_2004": "shift_jis",
    "euc_jp": "euc_jp",
    "euc_jis_2004": "euc_jp",
    "gb18030": "gb2312",
    "gbk": "gb2312",
    "big5hkscs": "big5",
    "big5": "big5",
}
CORE_SHARE = 0.9  # share of the non-ASCII characters that must be in the core repertoire
_NON_ASCII = re.compile("[^\x00-\x7f]")


def _in_core_repertoire(body: bytes, codec: str) -> bool:
    """Whether ``body`` decoded with ``codec`` reads as text of that codec's core standard."""
    core = _CORE_REPERTOIRE.get(codec)
    if core is None:
        return False
    from collections import Counter

    counts = Counter(_NON_ASCII.findall(body.decode(codec, errors="replace")))
    total = sum(counts.values())
    if not total:
        return False
    inside = 0
    for char, count in counts.items():
        try:
            # one double-byte code of the core set (euc_kr spells the rest as 8-byte jamo runs)
            inside += count if len(char.encode(core)) <= 2 else 0
        except UnicodeEncodeError:
            continue
    return inside >= CORE_SHARE * total


PLAUSIBLE_MIN_CHARS = 16  # fewer non-ASCII characters say too little to doubt a label


def _implausible(body: bytes, codec: str) -> bool:
    """Whether a clean decoding under a double-byte label reads as something else: enough
    non-ASCII characters, too few of them in the label's core standard (``_CORE_REPERTOIRE``)."""
    if codec not in _CORE_REPERTOIRE or len(_HIGH_BYTE.findall(body)) < 2 * PLAUSIBLE_MIN_CHARS:
        return False
    return not _in_core_repertoire(body, codec)


def _detect_charset(body: bytes) -> str | None:
    """Last-resort detection. windows-1252 wins near-ties because it is the web's legacy default.

    charset_normalizer rates how much a decoding reads like a language (coherence); for East
    Asian text its frequency tables often give nothing (coherence 0) even for clean text, so a
    multi-byte answer without coherence is kept when its characters are those of the codec's
    core standard, and refused as a language-less soup otherwise.
    """
    from charset_normalizer import from_bytes

    sample = body[:200_000]
    matches = list(from_bytes(sample))
    if not matches:
        return None
    best = matches[0]
    if best.coherence <= 0.0:
        codec = resolve_charset(best.encoding)
        return codec if codec is not None and _in_core_repertoire(sample, codec) else None
    for match in matches:
        if (
            resolve_charset(match.encoding) == "cp1252"
            and match.chaos <= best.chaos + 0.1
            and match.coherence >= best.coherence - 0.05
        ):
            return "cp1252"
    return resolve_charset(best.encoding)


_XML_ENCODING = re.compile(
    r"^(\s*<\?xml\b[^>]{0,200}?\bencoding\s*=\s*)([\"'])[^\"']{0,60}\2", re.IGNORECASE
)


def as_utf8_xml(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """An XML document (feed, sitemap) re-encoded as UTF-8 and declared so, with its content
    type to match: (body, content type).

    The charset is decided here, once, the way pages are decoded (BOM, header, XML declaration,
    then the bytes), so no XML parser downstream applies its own, narrower reading of a label:
    feedparser takes ``shift_jis`` literally (no NEC or IBM extensions), and RFC 3023 has it read
    ``text/xml`` without a charset as US-ASCII, both of which used to end in mojibake.
    """
    mime, charset = media_type(content_type)
    text, _, _ = decode_text(
        body, charset, kind=KIND_FEED, url="", max_bad_ratio=MAX_BAD_CHAR_RATIO
    )
    text = _XML_ENCODING.sub(lambda m: f"{m.group(1)}{m.group(2)}utf-8{m.group(2)}", text, 1)
    return text.encode("utf-8"), (f"{mime}; charset=utf-8" if mime else None)


def clean_text(text: str) -> str:
    """Text without C0 controls (tab, LF and CR kept) and DEL.

    A compiled character class: the same output as ``str.translate`` with a deletion table,
    several times faster on the mostly clean pages of the real web. Most pages hold no control
    character at all, and the regex scan (about 0.5 ms for a 150 KB page) costs the same with
    or without one; the text's UTF-8 searched with ``bytes.translate`` answers whether there is
    one in about 0.2 ms, so only the pages that hold one pay for the scan.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded.translate(None, _CONTROL_BYTES)) == len(encoded):
        return text
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
