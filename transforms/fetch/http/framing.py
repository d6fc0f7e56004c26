"""Where a Content-Length body ends, and what follows it on the connection.

A server whose Content-Length is *shorter* than the body it sends (a length counted in
characters for a UTF-8 page, where a CJK character takes three bytes; a template that appends
after the length was set) looks like a complete answer to a client that reads exactly the
announced length: the page arrives cut, with no error anywhere. RFC 9112 section 6.3 lets a
client "attempt to determine if that data belongs as part of the prior message body"; we do,
at the one moment that can be checked without waiting: when the announced length has been read,
whatever bytes already stand behind it (in the reader's buffer or the socket) were sent as part
of this answer, since we never pipeline. Non-blank bytes there mean the length lied and the body
is incomplete; blank ones (a stray CRLF some servers add) are harmless but keep the connection
from being reused.

``EndWatch`` sits between ``http.client`` and its buffered socket reader and looks when
``http.client`` closes the reader, which it does as soon as the announced length is read.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any

PEEK_BYTES = 64 * 1024


class _NoTraceback(logging.Filter):
    """urllib3 logs a server's malformed header block as a warning *with a traceback*; the
    answer becomes a dead letter here, so the warning keeps its one line and loses the trace
    (a hostile server must not be able to make a healthy run's log look like a crash)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


logging.getLogger("urllib3.connection").addFilter(_NoTraceback())


class EndWatch:
    """Delegates to ``http.client``'s reader; on close, peeks (never waits) at what follows."""

    def __init__(self, reader: Any, response: Any, sock: socket.socket) -> None:
        self._reader = reader
        self._response = response  # the http.client response: ``length`` left to read
        self._sock = sock
        self.following = b""  # bytes already sent after the announced body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def close(self) -> None:
        if self._response.length == 0 and not self._reader.closed:
            self.following = self._peek()
        self._reader.close()

    def _peek(self) -> bytes:
        timeout = self._sock.gettimeout()
        try:
            self._sock.settimeout(0.0)  # the buffer, or what the kernel holds: never waits
            return bytes(self._reader.peek(PEEK_BYTES) or b"")
        except (OSError, ValueError):
            return b""
        finally:
            with contextlib.suppress(OSError):  # closed by the deadline watchdog meanwhile
                self._sock.settimeout(timeout)


def watch_end(response: Any, declared: int) -> EndWatch | None:
    """Install an ``EndWatch`` on a urllib3 response whose body the ``declared``
    Content-Length delimits, or None when this response has no such end to check: chunked,
    read until close, no socket, or a status whose answer has no body whatever its headers say
    (204, 304: ``http.client`` reads nothing, and bytes a server sends anyway are not a body
    cut short)."""
    inner = getattr(response, "_fp", None)  # the http.client response
    reader = getattr(inner, "fp", None)
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    if inner is None or reader is None or sock is None:
        return None
    if getattr(inner, "chunked", False) or getattr(inner, "length", None) != declared:
        return None
    watch = EndWatch(reader, inner, sock)
    inner.fp = watch
    return watch
