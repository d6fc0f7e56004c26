"""The one redaction: credentials never leave the pipeline, in any output, log line or report.

Feed lists and article links carry secrets more often than one would hope: a paid feed's
``?token=``, a signed CDN link (``X-Amz-Signature``, ``X-Goog-Credential``), a session id a CMS
appends to every link (``;jsessionid=``, ``?PHPSESSID=``), ``https://user:password@host/``. The
pipeline needs them to fetch, so records keep them in memory; everything that is *written* goes
through this module:

* ``redact_url``: user info removed; the value of every query, fragment or path parameter whose
  name is a secret (``SECRET_PARAMS``, compared case-insensitively, ``-`` and ``_`` alike)
  replaced by ``REDACTED``; non-secret values that themselves hold a URL with a secret (a
  ``?next=`` or ``?u=`` redirect target) redacted inside. Everything else is kept byte for byte,
  so a redacted URL is still the URL a person can recognise.
* ``redact_text``: the same for free text (error messages, payload excerpts, log lines): every
  URL in it, ``name=value`` pairs with a secret name, and ``Authorization:``/``Bearer`` values.
* ``redact_record``: the fields of an output record that carry URLs or messages.

Ids are computed before redaction (``story_id`` and ``entry_id`` hash the real canonical URL and
guid), so redacting an output never changes an id, and two links that differ only in a secret
stay two stories.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, unquote_plus

MASK = "REDACTED"

# Parameter names whose values are credentials, normalised (lower case, "-" as "_").
SECRET_PARAMS: frozenset[str] = frozenset(
    {
        # bearer tokens and API keys
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "authtoken",
        "oauth_token",
        "oauth_verifier",
        "bearer",
        "api_key",
        "apikey",
        "key",
        "private_key",
        "app_key",
        "appkey",
        "license_key",
        "client_secret",
        "secret",
        "secret_key",
        "jwt",
        "auth",
        "authorization",
        "code",  # OAuth authorization codes
        # passwords
        "password",
        "passwd",
        "pass",
        "pwd",
        # signatures (signed links)
        "sig",
        "signature",
        "hmac",
        "x_goog_signature",
        "x_goog_credential",
        "x_goog_security_token",
        "x_amz_signature",
        "x_amz_credential",
        "x_amz_security_token",
        "awsaccesskeyid",
        "credential",
        "credentials",
        # sessions
        "sid",
        "session",
        "session_id",
        "sessionid",
        "sessid",
        "phpsessid",
        "jsessionid",
        "aspsessionid",
        "cfid",
        "cftoken",
    }
)
# Name endings that make any parameter a secret (``partner_token``, ``feed_api_key``…).
_SECRET_SUFFIXES = (
    "_token",
    "_secret",
    "_password",
    "_passwd",
    "_signature",
    "_api_key",
    "_apikey",
    "_session",
    "_sessionid",
    "_sessid",
    "_credential",
)


def is_secret_param(name: str) -> bool:
    """Does a parameter of this name carry a credential?"""
    key = unquote_plus(name).strip().lower().replace("-", "_")
    if key in SECRET_PARAMS or key.endswith(_SECRET_SUFFIXES):
        return True
    # ASP.NET's ASPSESSIONIDxxxxxxxx: the name itself carries a random suffix.
    return key.startswith("aspsessionid")


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_PAIR_SEP = re.compile(r"([&;])")


def _redact_value(value: str) -> str:
    """A non-secret value may itself be a URL or query with secrets (redirect targets)."""
    if "=" not in value and "@" not in value and "%" not in value:
        return value
    decoded = unquote_plus(value)
    cleaned = redact_text(decoded)
    if cleaned == decoded:
        return value
    return quote(cleaned, safe="/:")


def _redact_pairs(query: str) -> str:
    """``a=1&token=x;sid=y`` with secret values masked; separators and spelling preserved."""
    if not query:
        return query
    parts = _PAIR_SEP.split(query)
    out = []
    for part in parts:
        if part in ("&", ";") or not part:
            out.append(part)
            continue
        name, eq, value = part.partition("=")
        if eq and is_secret_param(name):
            out.append(f"{name}={MASK}")
        elif eq:
            out.append(f"{name}={_redact_value(value)}")
        else:
            out.append(part)
    return "".join(out)


def _redact_path(path: str) -> str:
    """Path parameters (``/a;jsessionid=XYZ/b``) and an odd ``/token=x/`` segment."""
    if ";" not in path and "=" not in path:
        return path
    segments = path.split("/")
    for index, segment in enumerate(segments):
        head, sep, params = segment.partition(";")
        if sep:
            segments[index] = head + sep + _redact_pairs(params)
        elif "=" in segment:
            name, _, _ = segment.partition("=")
            if is_secret_param(name):
                segments[index] = f"{name}={MASK}"
    return "/".join(segments)


def redact_url(url: str) -> str:
    """The URL without user info and with every secret parameter value masked.

    Works on the string, not through ``urlsplit``/``urlencode``, so nothing else in the URL is
    re-encoded; text that is not a URL goes through ``redact_text``.
    """
    if not url:
        return url
    match = _SCHEME.match(url)
    if match is None:
        return redact_text(url)
    scheme = match.group(0)
    rest = url[len(scheme) :]
    authority_end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            authority_end = min(authority_end, found)
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    tail, hash_mark, fragment = tail.partition("#")
    path, question, query = tail.partition("?")
    path = _redact_path(path)
    query = _redact_pairs(query)
    if fragment and "=" in fragment:
        fragment = _redact_pairs(fragment)
    return f"{scheme}{authority}{path}{question}{query}{hash_mark}{fragment}"


# A URL inside free text: up to whitespace, quotes or angle brackets.
_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.\-]{0,15}://[^\s'"<>()\[\]{}]+""")
# Scheme-less user info (``user:secret@host`` in a proxy string or netloc).
_USERINFO_IN_TEXT = re.compile(r"(?<![\w.%+-])[^\s/@:'\"<>]{1,256}:[^\s/@'\"<>]{0,256}@(?=[\w\[])")
# name=value / name: value pairs anywhere in text (JSON-ish, headers, log lines).
_PAIR_IN_TEXT = re.compile(
    r"""(?P<name>[A-Za-z_][\w.\-]{0,63})(?P<sep>\s*=\s*["']?|["']?\s*:\s*["']?)"""
    r"""(?P<value>[^\s&#;,'"<>)\]}]{1,4096})"""
)
# Names too common in prose to mask after a colon ("status code: 404"); after "=" they count.
_COLON_EXEMPT = frozenset({"code", "key", "auth", "pass", "session", "sid", "sig", "credential"})
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}")


def _pair_sub(match: re.Match[str]) -> str:
    name = match.group("name")
    if not is_secret_param(name):
        return match.group(0)
    if "=" not in match.group("sep") and name.lower() in _COLON_EXEMPT:
        return match.group(0)
    return f"{match.group('name')}{match.group('sep')}{MASK}"


def redact_text(text: str) -> str:
    """Free text (error messages, log lines, excerpts) with every credential masked."""
    if not text:
        return text
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    text = _USERINFO_IN_TEXT.sub(f"{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _PAIR_IN_TEXT.sub(_pair_sub, text)


# Output fields holding one URL, and fields holding free text that may quote URLs.
URL_FIELDS = frozenset({"url", "canonical_url", "feed_url", "final_url", "link"})
TEXT_FIELDS = frozenset({"error", "payload", "detail", "last_error", "message"})


def redact_record(record: dict[str, Any]) -> dict[str, Any]:
    """An output record (stories, duplicates, rejected, errors) with its URL and message fields
    redacted; the record is copied, ids and article text are left as they are."""
    out = dict(record)
    for name, value in record.items():
        if not isinstance(value, str) or not value:
            continue
        if name in URL_FIELDS:
            out[name] = redact_url(value)
        elif name in TEXT_FIELDS:
            out[name] = redact_text(value)
    return out


class RedactingFilter(logging.Filter):
    """Redacts every record passing a handler: arguments are formatted first, then cleaned.

    Attach it to *handlers* (``install_log_redaction``): a logger-level filter would not see
    records propagated from child loggers (Beam's, urllib3's).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        cleaned = redact_text(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Put one ``RedactingFilter`` on every handler of ``logger`` (default: the root logger)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
