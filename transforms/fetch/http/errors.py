"""The fetch layer's dead-letter vocabulary and the one error type that carries it.

Every way a fetch can end without a usable response maps to one reason below; dead letters,
counters, WARC error records and the README's table all use these strings, so adding one means
adding it here (with its retry class and meaning) and nowhere else.
"""

from __future__ import annotations

from typing import Any

from transforms.core.redact import redact_url

# Transient reasons are retried (bounded) before they become dead letters; permanent ones go
# straight to the dead letters.
DNS_ERROR = "dns_error"  # host name did not resolve (permanent; resolver timeouts are retried)
CONNECT_ERROR = "connect_error"  # refused/reset/TLS failure (transient)
TIMEOUT = "timeout"  # connect/read timeout (transient) or total deadline (not retried)
HTTP_4XX = "http_4xx"  # client error status (permanent, except 408/429 which are retried)
HTTP_5XX = "http_5xx"  # server error status (transient)
TOO_MANY_REDIRECTS = "too_many_redirects"  # more than max_redirects hops, or a loop (permanent)
TOO_LARGE = "too_large"  # body or decompressed body above max_bytes (permanent)
INCOMPLETE_BODY = "incomplete_body"  # body cut short or badly framed (a cut is retried)
NOT_HTML = "not_html"  # a page that is not HTML (PDF, image, binary, wrong type) (permanent)
NOT_FEED = "not_feed"  # a feed document that is neither XML nor JSON (permanent)
BAD_CHARSET = "bad_charset"  # text that cannot be decoded with any plausible charset (permanent)
BAD_ENCODING = "bad_encoding"  # corrupt, truncated or unsupported Content-Encoding (permanent)
ROBOTS_DISALLOWED = "robots_disallowed"  # robots.txt forbids it, or crawl-delay too long
BLOCKED_ADDRESS = "blocked_address"  # SSRF guard: private/loopback/link-local/metadata target
BAD_URL = "bad_url"  # not http(s), malformed, credentials in URL, unsupported redirect scheme
NOT_IN_ARCHIVE = "not_in_archive"  # replay mode: the URL was never captured (permanent)
HOST_UNRESPONSIVE = "host_unresponsive"  # not requested: the host timed out too often in a row

REASONS: dict[str, tuple[bool, str]] = {
    DNS_ERROR: (False, "the host name did not resolve"),
    CONNECT_ERROR: (True, "connection refused or reset, or the TLS handshake failed"),
    TIMEOUT: (True, "connect, read or total deadline exceeded"),
    HTTP_4XX: (False, "the server answered 4xx (408 and 429 are retried first)"),
    HTTP_5XX: (True, "the server answered 5xx"),
    TOO_MANY_REDIRECTS: (False, "more redirects than allowed, or a redirect loop"),
    TOO_LARGE: (False, "body or decompressed body larger than max_bytes"),
    INCOMPLETE_BODY: (
        False,
        "body ended before its Content-Length or last chunk (retried first), conflicting "
        "Content-Length headers, a Content-Length shorter than the body, or broken chunked "
        "framing",
    ),
    NOT_HTML: (False, "page is not HTML (wrong content type or binary content)"),
    NOT_FEED: (False, "feed document is neither XML nor JSON"),
    BAD_CHARSET: (False, "text could not be decoded with any plausible charset"),
    BAD_ENCODING: (False, "corrupt, truncated or unsupported Content-Encoding"),
    ROBOTS_DISALLOWED: (False, "robots.txt disallows the URL or asks for too long a delay"),
    BLOCKED_ADDRESS: (False, "the host resolves to a non-public or metadata address"),
    BAD_URL: (False, "not an http(s) URL, malformed, or carries credentials"),
    NOT_IN_ARCHIVE: (False, "replay mode: the URL is not in the WARC archive"),
    HOST_UNRESPONSIVE: (
        False,
        "not requested: the host's last requests all timed out, so the run gave up on it for a "
        "while instead of waiting out every page's timeouts and retries",
    ),
}
TRANSIENT_REASONS = frozenset(reason for reason, (transient, _) in REASONS.items() if transient)


class FetchError(Exception):
    """A fetch that ended without a usable response; ``reason`` is from the fixed vocabulary.

    The message never holds a body or credentials: the URL is redacted and ``excerpt`` is at most
    a few hundred printable characters, so it can go into logs and dead letters as is.
    """

    def __init__(
        self,
        reason: str,
        url: str,
        detail: str = "",
        *,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        excerpt: str = "",
        at: str | None = None,
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown fetch reason {reason!r}")
        self.reason = reason
        self.url = redact_url(url)
        self.detail = detail[:300]
        self.status = status
        self.retryable = reason in TRANSIENT_REASONS if retryable is None else retryable
        self.retry_after = retry_after
        self.excerpt = excerpt[:300]
        # When it happened: the archive's WARC-Date in replay, set by the client otherwise.
        self.at = at
        super().__init__(self.message)

    def not_retried(self, why: str) -> FetchError:
        """This error as final, its detail saying why it is not retried: the dead letter keeps
        the reason, status and Retry-After the server gave."""
        return FetchError(
            self.reason,
            self.url,
            f"{self.detail}; {why}",
            status=self.status,
            retryable=False,
            retry_after=self.retry_after,
            excerpt=self.excerpt,
            at=self.at,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions are pickled by Beam (dead-letter handling, bundle failures); the default
        # reduce would call __init__ with the message only.
        return (
            _rebuild_fetch_error,
            (
                self.reason,
                self.url,
                self.detail,
                self.status,
                self.retryable,
                self.retry_after,
                self.excerpt,
                self.at,
            ),
        )

    @property
    def message(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.reason}{status}: {self.detail} [{self.url}]"

    @property
    def transient(self) -> bool:
        return self.reason in TRANSIENT_REASONS


def _rebuild_fetch_error(
    reason: str,
    url: str,
    detail: str,
    status: int | None,
    retryable: bool,
    retry_after: float | None,
    excerpt: str,
    at: str | None,
) -> FetchError:
    return FetchError(
        reason,
        url,
        detail,
        status=status,
        retryable=retryable,
        retry_after=retry_after,
        excerpt=excerpt,
        at=at,
    )
