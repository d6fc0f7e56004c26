"""A real threaded HTTP server on a loopback address, with the hostile and awkward routes the
fetch tests need.

It is a real server (``http.server.ThreadingHTTPServer``) so the client's sockets, timeouts,
chunked reads and redirects are exercised for real; only 127.0.0.0/8 is ever bound. Every request
is logged (time, path, headers) so tests can check what the client actually sent and when.
Long-running routes (stall, trickle, endless bodies) stop as soon as the client goes away or the
server stops, so a test never leaves a thread behind.

Routes (GET):
  /page, /page/<anything>      small UTF-8 article HTML
  /gzip-page, /deflate-page    the article, gzip- / raw-deflate-encoded
  /no-type                     HTML without a Content-Type
  /echo                        HTML listing the request headers (UA, Host, Cookie...)
  /set-cookie                  sets a cookie and redirects to /echo
  /redirect/<n>                a chain of n redirects ending at /page/redirected
  /loop/a, /loop/b             a redirect loop
  /redirect-to?u=<url>         302 to any URL (private, file://, gopher://, metadata...)
  /etag                        ETag + Last-Modified; 304 to a matching conditional GET
  /429/<key>                   429 Retry-After: 1 the first time per key, then the page
  /429-forever                 429 with Retry-After: 3600
  /host-429/<key>              429 Retry-After: 2 to the first of these paths asked, then articles
  /500-then-200/<key>          500 the first time per key, then the page
  /always-500, /404, /410      as named
  /reset                       drops the connection without answering
  /stall                       sends nothing for a long time
  /trickle                     headers, then one body byte per second
  /huge                        announces 5 GB and streams zeros
  /huge-chunked                streams zeros, chunked, no length
  /gzip-bomb                   ~200 MB of zeros as ~200 KB of gzip
  /pdf-as-html, /png-as-html   binary bodies labelled text/html
  /pdf                         application/pdf
  /latin1-as-utf8              cp1252 body whose header claims UTF-8
  /meta-latin1                 cp1252 body declared only in <meta>
  /mixed                       UTF-8 with a stray cp1252 byte
  /invalid-utf8                bytes that are not UTF-8 (nor much else), declared UTF-8
  /nul-controls                HTML with NUL and other control characters
  /utf16-bom                   UTF-16 with a BOM, header says nothing
  /utf16le-header              UTF-16LE without BOM, declared in the header
  /text-no-type                plain text without a Content-Type
  /multiple-choices            300 without Location
  /feed.xml, /feed.json        an RSS 2.0 feed / a JSON Feed
  /feed-as-png                 a PNG served as a feed
  /private/<anything>          disallowed by the default robots.txt
  /robots.txt                  the server's robots text (404 when None, 500 when "!500";
                               "!slow" stalls, "!redirect" moves it, "!huge" pads it past 500 KiB)
  /flaky/<key>?p=<0..1>        fails (500, reset or stall) with probability p, seeded by key
  /raw/<name>                  exact bytes from RAW (status line, headers, body), then close:
                               short bodies, conflicting lengths, broken chunks, cut streams
  /charset/<name>              a page from CHARSET_PAGES or MORE_CHARSET_PAGES: legacy East
                               Asian, Thai and Western bytes under the labels real sites use
  /feed-charset/<name>         a feed from CHARSET_FEEDS: legacy and UTF-16 feed documents
  /refresh/<n>                 <meta http-equiv=refresh> chain of n pages ending at /page/refreshed
  /refresh-to?u=<url>[&d=<s>]  a meta refresh to any URL after d seconds (default 0)
  /refresh-self                a page that refreshes itself (a reload, not a redirect)
  /listing/<name>              an RSS document the test put in ``listings[name]``
  /long/<key>                  a full-length article (six paragraphs) about <key>
  /reset-mid-body              half the announced body, then a TCP reset
  /close-mid-body, /close-whole  no Content-Length, not chunked: half the page / all of it,
                               then the connection closes (the only framing is the close)
  /brotli-bomb                 ~20 MB of zeros as a few KB of brotli
  /octet-stream, /jpeg         binary types
  /hostile-charset/<name>      a page from HOSTILE_CHARSETS: CJK labels in the header, only in
                               <meta>, mislabelled, BOM against header, undecodable bytes
  /retry-after/<s|date|huge>   503 with Retry-After 1 s / an HTTP date 2 s ahead (then the
                               page) / a day (always)
  /304                         304 to any request, validators or not
  /feed-raw/<name>             same as /raw/<name> (feed fetches; the name says what is wrong)
  /one-per-connection/<k>      the page, but only as the first answer on a connection: a second
                               request on it finds the connection closed without an answer

Answers keep the connection alive unless a route says otherwise; ``connections`` counts the TCP
connections accepted, so tests and benchmarks can see keep-alive at work. A request in absolute
form (``GET http://host/path``, what a client sends to an HTTP proxy) is answered for ``path``,
so the server doubles as a forward proxy for tests of proxy support; ``CONNECT host:port``
opens a tunnel to that port on 127.0.0.1 (https through the proxy).
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import random
import re
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_ROBOTS = "User-agent: *\nDisallow: /private/\n"

ARTICLE_HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Flood waters recede</title></head>"
    "<body><article><h1>Flood waters recede in Zürich</h1>"
    "<p>ZURICH, Nov 24 (Wire) – Officials said on Monday that the waters had receded.</p>"
    "<p>Residents returned to their homes as the clean-up began in earnest.</p>"
    "</article></body></html>"
)
RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    "<item><title>One</title><link>http://example.com/1</link><guid>1</guid></item>"
    "</channel></rss>"
)
JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "T",
        "items": [{"id": "1", "url": "http://example.com/1", "title": "One"}],
    }
)
_BOMB_MB = 200


def _gzip_bomb() -> bytes:
    # 200 identical gzip members of 1 MiB of zeros each (a valid multi-member gzip stream):
    # ~200 MB once decoded, ~200 KB on the wire, built in milliseconds.
    member = gzip.compress(b"\0" * (1 << 20), compresslevel=9, mtime=0)
    return member * _BOMB_MB


def _article_bytes() -> bytes:
    return ARTICLE_HTML.encode("utf-8")


def _raw(head: str, body: bytes) -> bytes:
    return head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _raw_responses() -> dict[str, bytes]:
    """Broken answers a real server or middlebox sends, byte for byte."""
    import brotli

    page = _article_bytes()
    rss = RSS.encode()
    gz = gzip.compress(page, mtime=0)
    deflate = zlib.compress(page)
    br = brotli.compress(page)
    cjk_text = f"<html><body><p>{CHARSET_TEXTS['gb2312'] * 8}</p></body></html>"
    html = "Content-Type: text/html; charset=utf-8\n"
    xml = "Content-Type: application/rss+xml\n"
    return {
        # framing
        "short-body": _raw(f"HTTP/1.1 200 OK\n{html}Content-Length: {len(page) + 500}\n", page),
        "conflicting-length": _raw(
            f"HTTP/1.1 200 OK\n{html}Content-Length: {len(page) - 40}\n"
            f"Content-Length: {len(page)}\n",
            page,
        ),
        "invalid-length": _raw(f"HTTP/1.1 200 OK\n{html}Content-Length: 12abc\n", page),
        "bad-chunk-size": _raw(
            f"HTTP/1.1 200 OK\n{html}Transfer-Encoding: chunked\n",
            _chunk(page[:100]) + b"zz\r\n" + page[100:] + b"\r\n0\r\n\r\n",
        ),
        "cut-in-chunk": _raw(
            f"HTTP/1.1 200 OK\n{html}Transfer-Encoding: chunked\n",
            _chunk(page[:100]) + b"%x\r\n" % (len(page) - 100) + page[100:200],
        ),
        "no-last-chunk": _raw(
            f"HTTP/1.1 200 OK\n{html}Transfer-Encoding: chunked\n",
            _chunk(page[:100]) + _chunk(page[100:]),
        ),
        "whole-chunked": _raw(
            f"HTTP/1.1 200 OK\n{html}Transfer-Encoding: chunked\n",
            _chunk(page[:100]) + _chunk(page[100:]) + b"0\r\n\r\n",
        ),
        # a Content-Length shorter than the body sent: the length of the *text* of a UTF-8
        # page (three bytes per CJK character), or one a template set too early
        "body-longer-than-length": _raw(
            f"HTTP/1.1 200 OK\n{html}Content-Length: {len(page) - 120}\n", page
        ),
        "length-in-characters": _raw(
            f"HTTP/1.1 200 OK\n{html}Content-Length: {len(cjk_text)}\n", cjk_text.encode()
        ),
        "no-content-with-body": _raw("HTTP/1.1 204 No Content\nContent-Length: 5\n", b"hello"),
        "header-without-colon": _raw(
            f"HTTP/1.1 200 OK\nContent-Type text/html\nContent-Length: {len(page)}\n", page
        ),
        "crlf-after-body": _raw(f"HTTP/1.1 200 OK\n{html}Content-Length: {len(page)}\n", page)
        + b"\r\n",
        # compressed streams cut short, with correct framing for what was sent
        "cut-gzip": _raw(
            f"HTTP/1.1 200 OK\n{html}Content-Encoding: gzip\nContent-Length: {len(gz) - 30}\n",
            gz[:-30],
        ),
        "cut-deflate": _raw(
            f"HTTP/1.1 200 OK\n{html}Content-Encoding: deflate\n"
            f"Content-Length: {len(deflate) // 2}\n",
            deflate[: len(deflate) // 2],
        ),
        "cut-br": _raw(
            f"HTTP/1.1 200 OK\n{html}Content-Encoding: br\nContent-Length: {len(br) // 2}\n",
            br[: len(br) // 2],
        ),
        "whole-br": _raw(
            f"HTTP/1.1 200 OK\n{html}Content-Encoding: br\nContent-Length: {len(br)}\n", br
        ),
        "gzip-short-transfer": _raw(
            f"HTTP/1.1 200 OK\n{html}Content-Encoding: gzip\nContent-Length: {len(gz)}\n",
            gz[: len(gz) // 2],
        ),
        # feed documents
        "feed-short": _raw(
            f"HTTP/1.1 200 OK\n{xml}Content-Length: {len(rss) + 200}\n", rss[: len(rss) - 30]
        ),
        "feed-cut-gzip": _raw(
            f"HTTP/1.1 200 OK\n{xml}Content-Encoding: gzip\n"
            f"Content-Length: {len(gzip.compress(rss, mtime=0)) - 12}\n",
            gzip.compress(rss, mtime=0)[:-12],
        ),
        "feed-no-last-chunk": _raw(
            f"HTTP/1.1 200 OK\n{xml}Transfer-Encoding: chunked\n", _chunk(rss[:80])
        ),
        "feed-longer-than-length": _raw(
            f"HTTP/1.1 200 OK\n{xml}Content-Length: {len(rss) - 40}\n", rss
        ),
    }


def _charset_page(text: str, codec: str, meta: str | None = None) -> bytes:
    head = f"<meta charset='{meta}'>" if meta else ""
    paragraphs = "".join(f"<p>{text}</p>" for _ in range(6))
    return f"<html><head>{head}<title>t</title></head><body>{paragraphs}</body></html>".encode(
        codec
    )


# name -> (body, Content-Type, the text that must come back). Every text holds characters only
# the superset encoding has (GBK's 镕, cp932's ①, cp949's 똠, windows-1252's “ ” €, cp874's €),
# so a literal reading of the label fails or yields control characters.
CHARSET_TEXTS = {
    "gb2312": "朱镕基总理在北京会见了来访的代表团，双方就经济合作交换了意见。",
    "shift_jis": "①東京で国際会議が開かれ、各国の代表が気候変動について議論した。",
    "euc-kr": "똠방각하 서울에서 열린 회의에서 대표단이 경제 협력에 대해 논의했다.",
    "ks_c_5601-1987": "똠방각하 서울에서 열린 회의에서 대표단이 경제 협력에 대해 논의했다.",
    "iso-8859-1": "“Prices rose – by €5…” said the minister’s spokesman in Zürich.",
    "tis-620": "ข่าว “ด่วน” ราคาน้ำมันขึ้น €5 ในกรุงเทพมหานครวันนี้",
}
CHARSET_PAGES: dict[str, tuple[bytes, str]] = {
    "gb2312": (_charset_page(CHARSET_TEXTS["gb2312"], "gbk"), "text/html; charset=gb2312"),
    "shift_jis": (
        _charset_page(CHARSET_TEXTS["shift_jis"], "cp932"),
        "text/html; charset=Shift_JIS",
    ),
    "euc-kr": (_charset_page(CHARSET_TEXTS["euc-kr"], "cp949"), "text/html; charset=EUC-KR"),
    # declared only in the document, as many Korean sites do
    "ks_c_5601-1987": (
        _charset_page(CHARSET_TEXTS["ks_c_5601-1987"], "cp949", meta="ks_c_5601-1987"),
        "text/html",
    ),
    "iso-8859-1": (
        _charset_page(CHARSET_TEXTS["iso-8859-1"], "cp1252"),
        "text/html; charset=ISO-8859-1",
    ),
    "tis-620": (_charset_page(CHARSET_TEXTS["tis-620"], "cp874", meta="TIS-620"), "text/html"),
}


# Labels only the Encoding Standard's table knows (not Python's codec registry), a legacy label
# on a page written in UTF-8, and pages without any label: name -> (text, body, Content-Type).
_JA = "①東京で国際会議が開かれ、各国の代表が気候変動について議論した。"
_KO = "똠방각하 서울에서 열린 회의에서 대표단이 경제 협력에 대해 논의했다."
_HK = "𨋢香港特區政府今天宣布，將於下週舉行國際研討會，邀請各國專家參加。"
_ZH = CHARSET_TEXTS["gb2312"]
MORE_CHARSET_PAGES: dict[str, tuple[str, bytes, str]] = {
    "x-euc-jp": (
        _JA[1:],
        _charset_page(_JA[1:], "euc_jp"),
        "text/html; charset=x-euc-jp",
    ),
    "cn-big5": (_HK, _charset_page(_HK, "big5hkscs"), "text/html; charset=cn-big5"),
    "windows-949": (_KO, _charset_page(_KO, "cp949", meta="windows-949"), "text/html"),
    "gbk-label-utf8-bytes": (_ZH, _charset_page(_ZH, "utf-8"), "text/html; charset=gbk"),
    "unlabelled-shift_jis": (_JA, _charset_page(_JA, "cp932"), "text/html"),
    "unlabelled-euc-kr": (_KO, _charset_page(_KO, "cp949"), "text/html"),
    # declared UTF-8, but the few non-ASCII bytes among kilobytes of markup are all invalid:
    # "UTF-8 with stray bytes" would make every one of them U+FFFD
    "euc-kr-declared-utf-8": (
        _KO,
        f"<html><head><title>{_KO}</title><script>{'var a = 1;' * 2000}</script></head>"
        f"<body><p>{_KO}</p></body></html>".encode("cp949"),
        "text/html; charset=utf-8",
    ),
    "cp1252-declared-utf-8": (
        "Café, naïve résumé",
        f"<html><body><p>Café, naïve résumé</p><script>{'var a = 1;' * 2000}</script>"
        "</body></html>".encode("cp1252"),
        "text/html; charset=utf-8",
    ),
}


def _feed_doc(text: str, codec: str, declared: str | None) -> bytes:
    head = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    return (
        f'{head}<rss version="2.0"><channel><title>{text[:8]}</title><item><title>{text[:12]}'
        f"</title><link>http://news.example/1</link><guid>1</guid>"
        f"<description>{text}</description></item></channel></rss>"
    ).encode(codec)


# Feed documents in legacy and UTF-16 encodings, labelled where real feeds label them:
# name -> (text of the one item's description, body, Content-Type).
CHARSET_FEEDS: dict[str, tuple[str, bytes, str]] = {
    "shift_jis-declared": (_JA, _feed_doc(_JA, "cp932", "Shift_JIS"), "application/rss+xml"),
    # RFC 3023 would read text/xml without a charset as US-ASCII
    "text-xml-gb2312-declared": (_ZH, _feed_doc(_ZH, "gbk", "gb2312"), "text/xml"),
    "euc-kr-header-over-declaration": (
        _KO,
        _feed_doc(_KO, "cp949", "utf-8"),
        "application/rss+xml; charset=euc-kr",
    ),
    "big5-declared-hkscs-bytes": (_HK, _feed_doc(_HK, "big5hkscs", "big5"), "application/xml"),
    "utf-16le-header-no-bom": (
        _JA,
        _feed_doc(_JA, "utf-16-le", None),
        "application/rss+xml; charset=utf-16le",
    ),
    "utf-16le-declared-no-bom": (_JA, _feed_doc(_JA, "utf-16-le", "utf-16"), "application/xml"),
}


def _refresh_page(location: str, delay: float = 0) -> bytes:
    return (
        "<html><head><title>Moved</title>"
        f"<meta http-equiv='refresh' content='{delay:g}; url={location}'></head>"
        "<body></body></html>"
    ).encode()


# Real news-style sentences per script, long enough to pass extraction's length floor.
CJK_TEXTS = {
    "zh": (
        "朱镕基总理在北京会见了来访的代表团，双方就经济合作交换了意见。"
        "会议期间，两国代表讨论了贸易、能源和基础设施建设等问题，并签署了多项合作协议。"
        "有关部门表示，今年上半年全国经济保持稳定增长，居民收入继续提高，就业形势总体良好。"
        "专家认为，随着改革不断深化，市场活力将进一步增强，对外开放的水平也会继续提高。"
        "据统计部门公布的数据，上个月全国消费品零售总额同比增长，农村市场的增速快于城市。"
        "与此同时，各地加快推进教育和医疗领域的改革，努力让更多群众享受到优质的公共服务。"
        "气象台预报，未来三天北方地区将有大风降温天气，提醒市民注意防寒保暖和交通安全。"
    ),
    "ja": (
        "東京で国際会議が開かれ、各国の代表が気候変動について議論した。"
        "会議では温室効果ガスの削減目標や再生可能エネルギーの普及策が主な議題となった。"
        "政府関係者によると、来年度の予算案には防災対策と地域経済の支援が盛り込まれる見通しだ。"
        "専門家は、少子高齢化が進む中で労働力の確保が今後の大きな課題になると指摘している。"
        "気象庁によると、週末にかけて西日本を中心に大雨が予想され、土砂災害への警戒が必要だ。"
        "大阪では新しい鉄道路線の建設計画が発表され、地元の商店街からは期待の声が上がった。"
        "文部科学省は、全国の小中学校でデジタル教材の活用をさらに進める方針を明らかにした。"
    ),
    "ko": (
        "서울에서 열린 회의에서 대표단이 경제 협력에 대해 논의했다. "
        "정부는 올해 하반기 경제 성장률이 지난해보다 다소 높아질 것으로 전망한다고 밝혔다. "
        "전문가들은 수출이 회복세를 보이고 있지만 물가 상승에 대한 우려가 여전히 크다고 지적했다. "
        "시민들은 새로운 교통 정책이 출퇴근 시간을 줄여 줄 것으로 기대하고 있다고 말했다. "
        "기상청은 이번 주말 남부 지방을 중심으로 많은 비가 내릴 것으로 예보했다. "
        "부산에서는 국제 영화제가 개막해 세계 각국의 영화인과 관객들이 모였다. "
        "교육부는 내년부터 모든 초등학교에 새로운 디지털 교과서를 보급할 계획이라고 밝혔다."
    ),
    "zh-hant": (
        "香港特區政府今天宣布，將於下週舉行國際研討會，邀請各國專家參加。"
        "會議將討論城市發展、交通運輸和環境保護等議題，並就區域合作提出具體建議。"
        "有關官員表示，今年經濟表現穩定，旅遊業逐步恢復，市民的生活水平持續改善。"
        "學者認為，加強科技創新和人才培養是未來發展的重要方向，政府應該增加投入。"
        "天文台預測，未來幾天天氣炎熱，部分地區氣溫將超過三十五度，市民應注意防暑。"
        "台北市政府表示，新的捷運路線預計明年通車，將大大縮短市民的通勤時間。"
        "多家銀行宣布調整利率，分析師認為這反映了市場對經濟前景的審慎態度。"
    ),
}


def cjk_page(text: str, title: str, meta: str | None = None) -> str:
    """An article page of ``text``: a title, a paragraph per sentence, optionally <meta>."""
    head = f"<meta charset='{meta}'>" if meta else ""
    paragraphs = "".join(f"<p>{sentence}</p>" for sentence in re.split("(?<=[。.])\\s*", text))
    return (
        f"<html><head>{head}<title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{paragraphs}</article></body></html>"
    )


def _hostile_charsets() -> dict[str, tuple[str | None, bytes, str]]:
    """name -> (text the story must hold, or None for a dead letter; body; Content-Type).

    Pages labelled with the East Asian names real sites use, in the header or only in <meta>,
    mislabelled (header names one encoding, bytes are another), with a BOM that contradicts the
    header, and bytes nothing decodes.
    """
    zh, ja, ko, hant = (CJK_TEXTS[k] for k in ("zh", "ja", "ko", "zh-hant"))

    def page(text: str, codec: str, meta: str | None = None, tag: str = "") -> bytes:
        return cjk_page(text, text[:10] + tag, meta).encode(codec)

    rng = random.Random(11)
    garbage = bytes(rng.choice([0x80, 0xFF, 0xA0, 0x81, 0xFE]) for _ in range(3000))
    return {
        # labelled in the header
        "h-gb2312": (zh, page(zh, "gbk", tag="1"), "text/html; charset=gb2312"),
        "h-gbk": (zh, page(zh, "gbk", tag="2"), "text/html; charset=GBK"),
        "h-shift_jis": ("①" + ja, page("①" + ja, "cp932"), "text/html; charset=Shift_JIS"),
        "h-euc-jp": (ja, page(ja, "euc_jp", tag="3"), "text/html; charset=EUC-JP"),
        "h-euc-kr": (ko, page(ko, "cp949", tag="4"), "text/html; charset=euc-kr"),
        "h-big5": (hant, page(hant, "big5hkscs", tag="5"), "text/html; charset=big5"),
        "h-iso-2022-jp": (ja, page(ja, "iso2022_jp", tag="6"), "text/html; charset=ISO-2022-JP"),
        # labelled only in <meta>
        "m-gb2312": (zh, page(zh, "gbk", "gb2312", "7"), "text/html"),
        "m-shift_jis": (ja, page(ja, "cp932", "shift_jis", "8"), "text/html"),
        "m-euc-jp": (ja, page(ja, "euc_jp", "euc-jp", "9"), "text/html"),
        "m-euc-kr": (ko, page(ko, "cp949", "euc-kr", "10"), "text/html"),
        "m-big5": (hant, page(hant, "big5hkscs", "big5", "11"), "text/html"),
        "m-iso-2022-jp": (ja, page(ja, "iso2022_jp", "iso-2022-jp", "12"), "text/html"),
        # unlabelled ISO-2022-JP: 7-bit bytes that read as ASCII with escape sequences
        "n-iso-2022-jp": (ja, page(ja, "iso2022_jp", tag="13"), "text/html"),
        # mislabelled: the header names one encoding, the bytes are another
        "x-sjis-on-euc-jp": (ja, page(ja, "euc_jp", tag="14"), "text/html; charset=shift_jis"),
        "x-gb2312-on-big5": (hant, page(hant, "big5hkscs", tag="15"), "text/html; charset=gb2312"),
        "x-euc-kr-on-sjis": (ja, page(ja, "cp932", tag="16"), "text/html; charset=euc-kr"),
        "x-utf-8-on-gbk": (zh, page(zh, "gbk", tag="17"), "text/html; charset=utf-8"),
        "x-big5-on-utf-8": (hant, page(hant, "utf-8", tag="18"), "text/html; charset=big5"),
        # BOM against the header: the BOM wins (WHATWG "decode")
        "b-utf8-bom-sjis-header": (
            ja,
            b"\xef\xbb\xbf" + page(ja, "utf-8", tag="19"),
            "text/html; charset=shift_jis",
        ),
        "b-utf16-bom-gbk-header": (
            zh,
            b"\xff\xfe" + page(zh, "utf-16-le", tag="20"),
            "text/html; charset=gbk",
        ),
        # the WHATWG "replacement" labels: a browser decodes the page to one U+FFFD
        "r-iso-2022-kr-meta": (None, page(ko, "iso2022_kr", "iso-2022-kr", "21"), "text/html"),
        "r-hz-gb-2312-header": (
            None,
            page(zh.split("。", 1)[1], "hz", tag="22"),
            "text/html; charset=HZ-GB-2312",
        ),
        # nothing decodes these
        "g-garbage-sjis": (None, b"<html><body><p>" + garbage + b"</p></body></html>",
                           "text/html; charset=shift_jis"),
        "g-garbage-utf8": (None, b"<html><body><p>" + garbage + b"</p></body></html>",
                           "text/html; charset=utf-8"),
    }  # fmt: skip


HOSTILE_CHARSETS = _hostile_charsets()


def long_article(key: str) -> str:
    """A news article long enough to become a story, its headline naming ``key``."""
    body = "".join(
        f"<p>Paragraph {i} about {key}: the regional council met on Tuesday to approve the "
        "budget for schools, roads and the hospital after a long debate in the chamber.</p>"
        for i in range(6)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Report {key}</title></head>"
        f"<body><article><h1>Report {key}</h1>{body}</article></body></html>"
    )


def rss_of(urls: list[str]) -> bytes:
    """An RSS 2.0 document listing ``urls``, one item each (guid = URL)."""
    items = "".join(
        f"<item><title>item {i}</title><link>{url}</link><guid>{url}</guid></item>"
        for i, url in enumerate(urls)
    )
    return (
        (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>hostile'
            f"</title>{items}</channel></rss>"
        )
        .replace("&", "&amp;")
        .encode()
    )


_BROTLI_BOMB: bytes | None = None


def brotli_bomb() -> bytes:
    """~20 MB of zeros as a few kilobytes of brotli."""
    global _BROTLI_BOMB
    with _BOMB_LOCK:
        if _BROTLI_BOMB is None:
            import brotli

            _BROTLI_BOMB = brotli.compress(b"\0" * (20 << 20), quality=1)
        return _BROTLI_BOMB


_BOMB: bytes | None = None
_BOMB_LOCK = threading.Lock()


def gzip_bomb() -> bytes:
    global _BOMB
    with _BOMB_LOCK:
        if _BOMB is None:
            _BOMB = _gzip_bomb()
        return _BOMB


@dataclass
class Hit:
    """One request as the server saw it."""

    at: float  # time.monotonic() when the request line was parsed
    host: str  # the address the server is bound to
    path: str
    headers: dict[str, str]


@dataclass
class LocalServer:
    """A threaded HTTP server bound to one loopback address on an ephemeral port."""

    host: str = "127.0.0.1"
    robots: str | None = DEFAULT_ROBOTS
    tls: ssl.SSLContext | None = None  # serve HTTPS with this server-side context
    hits: list[Hit] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    connections: int = 0  # TCP connections accepted
    listings: dict[str, bytes] = field(default_factory=dict)  # /listing/<name>: feed documents
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if not self.host.startswith("127."):
            raise ValueError("the test server only binds loopback addresses")

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> LocalServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _QuietServer((self.host, 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def count(self, key: str) -> int:
        """Increment and return how often ``key`` was seen (1 the first time)."""
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]

    def hits_for(self, path_prefix: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path.startswith(path_prefix)]


@contextmanager
def serving(
    host: str = "127.0.0.1",
    robots: str | None = DEFAULT_ROBOTS,
    tls: ssl.SSLContext | None = None,
) -> Iterator[LocalServer]:
    server = LocalServer(host=host, robots=robots, tls=tls).start()
    try:
        yield server
    finally:
        server.stop()


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-answer are the point of several routes: no tracebacks."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class _Handler(BaseHTTPRequestHandler):
    owner: LocalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def setup(self) -> None:
        super().setup()
        with self.owner.lock:
            self.owner.connections += 1

    # -- helpers -------------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, b"", content_type=None, headers={"Location": location})

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops; True when the full time passed."""
        return not self.owner.stopping.wait(seconds)

    def _stream(self, chunk: bytes, limit_bytes: int, chunked: bool = False) -> None:
        sent = 0
        try:
            while sent < limit_bytes and not self.owner.stopping.is_set():
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                else:
                    self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            return  # the client gave up, as it should

    # -- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        owner = self.owner
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with owner.lock:
            owner.hits.append(Hit(time.monotonic(), owner.host, self.path, dict(self.headers)))
        article = ARTICLE_HTML.encode("utf-8")
        try:
            if path == "/robots.txt":
                if owner.robots is None:
                    self._send(404, b"not found", "text/plain")
                elif owner.robots == "!500":
                    self._send(500, b"broken", "text/plain")
                elif owner.robots == "!slow":
                    self._wait(30)
                elif owner.robots == "!redirect":
                    self._redirect("/robots-moved.txt", 301)
                elif owner.robots == "!huge":
                    padding = "".join(f"# comment line {i:07d} padding\n" for i in range(20_000))
                    self._send(200, (DEFAULT_ROBOTS + padding).encode(), "text/plain")
                else:
                    self._send(200, owner.robots.encode(), "text/plain")
            elif path == "/robots-moved.txt":
                self._send(200, DEFAULT_ROBOTS.encode(), "text/plain")
            elif path.startswith("/listing/"):
                self._send(200, owner.listings[path.split("/", 2)[2]], "application/rss+xml")
            elif path.startswith("/long/"):
                self._send(200, long_article(path).encode())
            elif path == "/reset-mid-body":
                page = long_article(path).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page[: len(page) // 2])
                self.wfile.flush()
                self._reset()
            elif path == "/close-mid-body":  # no length, no chunks: read until close, cut
                page = long_article(path).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(page[: len(page) // 2])
                self.close_connection = True
            elif path == "/close-whole":  # no length, no chunks: the whole page, then close
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(long_article(path).encode())
                self.close_connection = True
            elif path == "/brotli-bomb":
                self._send(200, brotli_bomb(), headers={"Content-Encoding": "br"})
            elif path == "/octet-stream":
                self._send(200, bytes(range(256)) * 16, "application/octet-stream")
            elif path == "/jpeg":
                self._send(200, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(2000), "image/jpeg")
            elif path.startswith("/hostile-charset/"):
                _, body, content_type = HOSTILE_CHARSETS[path.split("/", 2)[2]]
                self._send(200, body, content_type)
            elif path.startswith("/retry-after/"):
                # 503 then the page: Retry-After as seconds (/s), an HTTP date (/date) or huge
                kind = path.split("/")[2]
                if kind == "huge" or owner.count(path) == 1:
                    when = {
                        "s": "1",
                        "huge": "86400",
                        "date": email.utils.formatdate(time.time() + 2, usegmt=True),
                    }[kind]
                    self._send(503, b"busy", "text/plain", headers={"Retry-After": when})
                else:
                    self._send(200, long_article(path).encode())
            elif path == "/304":
                self._send(304, b"", content_type=None)
            elif path == "/page" or path.startswith(("/page/", "/private/")):
                self._send(200, article)
            elif path == "/gzip-page":
                body = gzip.compress(article, mtime=0)
                self._send(200, body, headers={"Content-Encoding": "gzip"})
            elif path == "/deflate-page":
                compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
                body = compressor.compress(article) + compressor.flush()
                self._send(200, body, headers={"Content-Encoding": "deflate"})
            elif path == "/no-type":
                self._send(200, article, content_type=None)
            elif path == "/echo":
                listing = "".join(f"<li>{k}: {v}</li>" for k, v in self.headers.items())
                self._send(200, f"<html><body><ul>{listing}</ul></body></html>".encode())
            elif path == "/set-cookie":
                self._send(
                    302,
                    b"",
                    content_type=None,
                    headers={"Set-Cookie": "session=s3cr3t; Path=/", "Location": "/echo"},
                )
            elif path.startswith("/redirect/"):
                remaining = int(path.rsplit("/", 1)[1])
                self._redirect(
                    "/page/redirected" if remaining <= 1 else f"/redirect/{remaining - 1}", 301
                )
            elif path == "/loop/a":
                self._redirect("/loop/b")
            elif path == "/loop/b":
                self._redirect("/loop/a")
            elif path == "/redirect-to":
                self._redirect(query["u"][0])
            elif path == "/etag":
                etag, modified = '"v1"', "Mon, 24 Nov 2026 10:00:00 GMT"
                validators = {"ETag": etag, "Last-Modified": modified}
                if (
                    self.headers.get("If-None-Match") == etag
                    or self.headers.get("If-Modified-Since") == modified
                ):
                    self._send(304, b"", content_type=None, headers=validators)
                else:
                    self._send(200, RSS.encode(), "application/rss+xml", headers=validators)
            elif path.startswith("/429/"):
                if owner.count(path) == 1:
                    self._send(429, b"slow down", "text/plain", headers={"Retry-After": "1"})
                else:
                    self._send(200, article)
            elif path.startswith("/host-429/"):
                # the host (not one page) asks for a pause once: its other pages must wait too
                if owner.count("/host-429/") == 1:
                    self._send(429, b"slow down", "text/plain", headers={"Retry-After": "2"})
                else:
                    self._send(200, long_article(path).encode())
            elif path == "/429-forever":
                self._send(429, b"slow down", "text/plain", headers={"Retry-After": "3600"})
            elif path.startswith("/500-then-200/"):
                if owner.count(path) == 1:
                    self._send(500, b"oops", "text/plain")
                else:
                    self._send(200, article)
            elif path == "/always-500":
                self._send(500, b"oops <password=hunter2>", "text/plain")
            elif path in ("/404", "/410"):
                self._send(int(path[1:]), b"gone", "text/plain")
            elif path == "/reset":
                self._reset()
            elif path == "/stall":
                self._wait(30)
            elif path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", "1000")
                self.send_header("Connection", "close")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    if not self._wait(1.0):
                        break
            elif path == "/huge":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(5 * 1024**3))
                self.send_header("Connection", "close")
                self.end_headers()
                self._stream(b"\0" * 65536, 5 * 1024**3)
            elif path == "/huge-chunked":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                self._stream(b"<p>" + b"a" * 65533, 5 * 1024**3, chunked=True)
            elif path == "/gzip-bomb":
                self._send(200, gzip_bomb(), headers={"Content-Encoding": "gzip"})
            elif path == "/pdf-as-html":
                self._send(200, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" * 50)
            elif path == "/png-as-html":
                self._send(200, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
            elif path == "/pdf":
                self._send(200, b"%PDF-1.7\n", "application/pdf")
            elif path == "/latin1-as-utf8":
                body = ARTICLE_HTML.replace("charset='utf-8'", "").encode("cp1252") + (
                    "<p>Café, crème brûlée, naïve façade, déjà vu, résumé.</p>" * 20
                ).encode("cp1252")
                self._send(200, body)
            elif path == "/meta-latin1":
                body = (
                    "<html><head><meta charset='iso-8859-1'></head><body>"
                    "<p>Fußgänger überqueren die Straße in Köln.</p></body></html>"
                ).encode("cp1252")
                self._send(200, body, "text/html")
            elif path == "/mixed":
                body = article[:-20] + b" caf\xe9 " + article[-20:]
                self._send(200, body)
            elif path == "/invalid-utf8":
                rng = random.Random(7)
                noise = bytes(rng.choice([0x81, 0x8D, 0x8F, 0x90, 0x9D]) for _ in range(4000))
                self._send(200, b"<html><body>" + noise + b"</body></html>")
            elif path == "/nul-controls":
                body = ARTICLE_HTML.replace("Officials", "Offi\x00cials\x07\x1b").encode()
                self._send(200, body)
            elif path == "/utf16-bom":
                self._send(200, ARTICLE_HTML.encode("utf-16"), "text/html")
            elif path == "/utf16le-header":
                self._send(200, ARTICLE_HTML.encode("utf-16-le"), "text/html; charset=utf-16le")
            elif path == "/text-no-type":
                self._send(200, b"just some plain words, not a web page at all", None)
            elif path == "/multiple-choices":
                self._send(300, b"pick one", "text/plain")
            elif path == "/feed.xml":
                self._send(200, RSS.encode(), "application/rss+xml")
            elif path == "/feed.json":
                self._send(200, JSON_FEED.encode(), "application/feed+json")
            elif path == "/feed-as-png":
                self._send(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "application/rss+xml")
            elif path.startswith("/one-per-connection/"):
                # answers the first request of a kept-alive connection; a later one on the same
                # connection finds it closed (a server whose keep-alive timer just ran out)
                self.served_here = getattr(self, "served_here", 0) + 1
                if self.served_here > 1:
                    self.close_connection = True
                    return
                self._send(200, article)
            elif path.startswith(("/raw/", "/feed-raw/")):
                self.wfile.write(_raw_responses()[path.rsplit("/", 1)[1]])
                self.wfile.flush()
                self.close_connection = True
            elif path.startswith("/charset/"):
                name = path.split("/", 2)[2]
                if name in MORE_CHARSET_PAGES:
                    _, body, content_type = MORE_CHARSET_PAGES[name]
                else:
                    body, content_type = CHARSET_PAGES[name]
                self._send(200, body, content_type)
            elif path.startswith("/feed-charset/"):
                _, body, content_type = CHARSET_FEEDS[path.split("/", 2)[2]]
                self._send(200, body, content_type)
            elif path.startswith("/refresh/"):
                remaining = int(path.rsplit("/", 1)[1])
                location = "/page/refreshed" if remaining <= 1 else f"/refresh/{remaining - 1}"
                self._send(200, _refresh_page(location))
            elif path == "/refresh-to":
                delay = float(query.get("d", ["0"])[0])
                self._send(200, _refresh_page(query["u"][0], delay))
            elif path == "/refresh-self":
                self._send(200, _refresh_page("/refresh-self") + article)
            elif path.startswith("/flaky/"):
                self._flaky(path, float(query.get("p", ["0.3"])[0]), article)
            else:
                self._send(404, b"no such route", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            return

    def do_CONNECT(self) -> None:
        """Forward proxy for https: tunnel to ``127.0.0.1:<port>`` whatever host is named (the
        test's TLS server), so TLS and the certificate check run end to end through it."""
        owner = self.owner
        with owner.lock:
            owner.hits.append(
                Hit(time.monotonic(), owner.host, f"CONNECT {self.path}", dict(self.headers))
            )
        port = int(self.path.rpartition(":")[2])
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        sockets = [self.connection, upstream]
        try:
            while not owner.stopping.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout turns close() into a TCP RST.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        self.connection.close()
        self.close_connection = True

    def _flaky(self, path: str, probability: float, article: bytes) -> None:
        """Fail with a fixed, seeded pattern per key and attempt: 500, reset or a short stall."""
        attempt = self.owner.count(path)
        seed = int(hashlib.sha256(f"{path}#{attempt}".encode()).hexdigest()[:12], 16)
        rng = random.Random(seed)
        if rng.random() < probability:
            mode = rng.choice(["500", "reset", "stall"])
            if mode == "500":
                self._send(503, b"unavailable", "text/plain")
            elif mode == "reset":
                self._reset()
            else:
                self._wait(3)
            return
        self._send(200, article)
