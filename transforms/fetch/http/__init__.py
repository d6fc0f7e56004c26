"""A safe, polite HTTP client for feeds and article pages, built once per worker.

Public API (what other stages use)::

    from transforms.fetch.http import HttpClient, HttpConfig, FetchError, Response

    client = HttpClient(HttpConfig(user_agent="acme-news/1.0 (+https://acme.example/bot)"))
    response = client.get(url, kind="page")        # or kind="feed"
    response = client.get(url, kind="feed", etag=old_etag, last_modified=old_lm)
    if response.not_modified: ...                  # 304 to a conditional GET
    response.text, response.body, response.encoding, response.final_url, response.fetched_at
    client.crawl_delay(url)                        # robots.txt crawl-delay for the host, or None
    client.close()

``get`` returns a :class:`Response` (the one response record: pages and feed documents alike)
or raises :class:`FetchError` whose ``reason`` is one of the constants in ``errors`` (the
dead-letter vocabulary). ``kind="feed"`` accepts XML and JSON bodies and never raises
``bad_charset`` (feed parsers sniff encodings from ``body``); ``kind="page"`` accepts HTML only,
checks robots.txt and follows a quick ``<meta http-equiv=refresh>`` as one more redirect.

Modules: ``guard`` (which URLs and addresses; SSRF), ``transport`` (urllib3 pools pinned to
vetted addresses, deadline, completeness), ``body`` (decompression, content checks, charsets),
``robots`` (RFC 9309 cache), ``errors`` (vocabulary), ``response`` (records, config),
``client`` (redirects, retries and the rest of the policy).

Why it looks like this:

* SSRF: every hop's host is resolved and every address checked before a connection is made to
  exactly the checked address (see ``guard`` and ``transport``); cloud metadata stays blocked.
* Bounded cost per URL: connect/read timeouts, a total deadline per request, a body cap while
  streaming and after decompression, a bounded number of redirects and retries.
* Nothing accepted incomplete: a body cut short, conflicting lengths, broken chunked framing
  or a cut compressed stream is a dead letter, never a shorter page or a feed missing entries.
* Retries only where they can help (timeouts, connection failures, cut bodies, 408/429/5xx),
  with exponential backoff and jitter seeded per URL; a long Retry-After ends the attempt.
* Nothing secret leaves the client: URLs are redacted before logs and errors; cookies are
  neither sent, stored nor logged; bodies appear only as bounded excerpts.
"""

from transforms.fetch.http.body import (
    KIND_FEED,
    KIND_PAGE,
    KIND_ROBOTS,
    KINDS,
    decode_body,
    decode_text,
    media_type,
)
from transforms.fetch.http.client import HttpClient, backoff_delay, retry_after_seconds
from transforms.fetch.http.errors import (
    BAD_CHARSET,
    BAD_ENCODING,
    BAD_URL,
    BLOCKED_ADDRESS,
    CONNECT_ERROR,
    DNS_ERROR,
    HOST_UNRESPONSIVE,
    HTTP_4XX,
    HTTP_5XX,
    INCOMPLETE_BODY,
    NOT_FEED,
    NOT_HTML,
    NOT_IN_ARCHIVE,
    REASONS,
    ROBOTS_DISALLOWED,
    TIMEOUT,
    TOO_LARGE,
    TOO_MANY_REDIRECTS,
    TRANSIENT_REASONS,
    FetchError,
    redact_url,
)
from transforms.fetch.http.guard import Target, address_block_reason, parse_target
from transforms.fetch.http.response import (
    DEFAULT_USER_AGENT,
    HttpConfig,
    RawResponse,
    Recorder,
    Replayer,
    Response,
)

__all__ = [
    "BAD_CHARSET",
    "BAD_ENCODING",
    "BAD_URL",
    "BLOCKED_ADDRESS",
    "CONNECT_ERROR",
    "DEFAULT_USER_AGENT",
    "DNS_ERROR",
    "HOST_UNRESPONSIVE",
    "HTTP_4XX",
    "HTTP_5XX",
    "INCOMPLETE_BODY",
    "KINDS",
    "KIND_FEED",
    "KIND_PAGE",
    "KIND_ROBOTS",
    "NOT_FEED",
    "NOT_HTML",
    "NOT_IN_ARCHIVE",
    "REASONS",
    "ROBOTS_DISALLOWED",
    "TIMEOUT",
    "TOO_LARGE",
    "TOO_MANY_REDIRECTS",
    "TRANSIENT_REASONS",
    "FetchError",
    "HttpClient",
    "HttpConfig",
    "RawResponse",
    "Recorder",
    "Replayer",
    "Response",
    "Target",
    "address_block_reason",
    "backoff_delay",
    "decode_body",
    "decode_text",
    "media_type",
    "parse_target",
    "redact_url",
    "retry_after_seconds",
]
