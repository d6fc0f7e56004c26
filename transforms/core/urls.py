"""Canonical URLs: one spelling per article, so the same story announced twice is fetched once.

Feeds announce the same article under many spellings (``HTTP://Example.com:80/a?utm_source=rss``,
``http://example.com/a#comments``, ``http://example.com/a?fbclid=…``). Story ids, "already seen"
checks and fetch de-duplication key on the canonical form, so it must be

* conservative: only differences that never change which page a server returns are removed
  (scheme/host case, default ports, credentials, fragments, dot segments, percent-encoding
  spelling, query order, well-known click/campaign trackers). Generic names such as ``id``,
  ``ref`` or ``source`` are kept because news CMSs use them to address articles, and merging
  two different stories is worse than fetching one story twice;
* idempotent: canonicalising a canonical URL returns it unchanged, so ids computed at any stage
  (feed entry, fetched page, replay) agree;
* total: any string goes in, a canonical ``http(s)`` URL or ``None`` comes out, never an
  exception, because URLs come from hostile documents.

Host names are IDNA 2008 with UTS 46 mapping (the ``idna`` package), as browsers and urllib3 do:
``faß.de`` is ``xn--fa-hia.de``, a different domain from ``fass.de`` (which the IDNA 2003 codec
of the standard library would produce). The percent-encoding and query-sorting rules are w3lib's
``canonicalize_url`` (Scrapy's request fingerprinting uses it), given the already-encoded host;
the registrable domain ("same site") comes from the public suffix list via ``tld``.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

MAX_URL_CHARS = 4096

# Exact parameter names (compared case-insensitively) that only identify a click or campaign.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "hsctatracking",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "rb_clickid",
        "s_cid",
        "ncid",
        "ocid",
        "xtor",
        "sr_share",
        "ref_src",
        "ref_url",
        "soc_src",
        "soc_trk",
        "cmpid",
        "icid",
        "smid",
        "spm",
        "__twitter_impression",
        "wt_mc",
        "wt.mc_id",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
    }
)
# Parameter-name prefixes reserved by analytics suites (Google, Matomo/Piwik, HubSpot ads).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "piwik_", "hsa_", "itm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CONTROL_CHARS = re.compile(r"[\x00-\x20\x7f]")
# After IDNA encoding a usable host is LDH labels (underscores occur in the wild) or an IP literal.
_VALID_HOST = re.compile(r"^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|[0-9a-f:.]+)$")


def idna_host(host: str) -> str:
    """ASCII form of a host name: IDNA 2008 with UTS 46 mapping, lower case, no trailing dot.

    ASCII names are only lower-cased (underscores occur in real host names and IDNA's strict
    rules would refuse them); IP literals pass through. Raises ``UnicodeError`` for a name that
    has no IDNA form (empty labels, disallowed code points such as symbols).
    """
    host = host.rstrip(".")
    if host.isascii():
        return host.lower()
    import idna

    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise UnicodeError(f"host name is not valid IDNA 2008: {exc}") from None


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _strip_tracking(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(key, value) for key, value in pairs if not is_tracking_param(key)]
    if len(kept) == len(pairs):
        return query
    # w3lib re-encodes and sorts what is left, so the spelling here does not matter.
    return urlencode(kept)


def _netloc(scheme: str, host: str, port: int | None) -> str:
    host = host.rstrip(".")
    if ":" in host:  # IPv6 literal; urlsplit removed the brackets
        host = f"[{host}]"
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return host
    return f"{host}:{port}"


def canonicalize_url(url: str | None, base: str | None = None) -> str | None:
    """Canonical ``http(s)`` form of ``url`` (resolved against ``base``), or ``None``.

    ``None`` means "not usable as an article address": empty, relative without a base,
    another scheme (``javascript:``, ``mailto:``, ``file:``), no host, or unparsable.
    """
    if not url or not isinstance(url, str):
        return None
    candidate = _CONTROL_CHARS.sub(lambda m: "" if m.group() != " " else "%20", url.strip())
    if not candidate or len(candidate) > MAX_URL_CHARS:
        return None
    try:
        from w3lib.url import canonicalize_url as w3_canonicalize

        if base:
            candidate = urljoin(base, candidate)
        parts = urlsplit(candidate)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return None
        host = idna_host(parts.hostname or "")
        if not host:
            return None
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
        query = _strip_tracking(parts.query)
        rebuilt = urlunsplit((scheme, _netloc(scheme, host, port), parts.path, query, ""))
        result = w3_canonicalize(rebuilt, keep_fragments=False)
        final = urlsplit(result)
        if final.scheme not in _DEFAULT_PORTS or not _VALID_HOST.match(final.hostname or ""):
            return None
    except (ValueError, UnicodeError, TypeError) as exc:
        logger.debug("unusable URL %r: %s", url[:200], exc)
        return None
    if len(result) > MAX_URL_CHARS:
        return None
    return result


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def registrable_domain(url: str) -> str:
    """The site an URL belongs to: ``news.bbc.co.uk`` -> ``bbc.co.uk``; IPs and bare hosts as is.

    The public suffix list makes ``a.github.io`` and ``b.github.io`` different sites, which a
    "last two labels" rule would merge.
    """
    host = host_of(url)
    if not host:
        return ""
    from tld import get_fld

    try:
        domain = get_fld(host, fix_protocol=True, fail_silently=True)
    except Exception:  # tld raises its own hierarchy on odd hosts; the host itself is the answer
        domain = None
    return (domain or host).lower()


def same_site(first: str, second: str) -> bool:
    first_site = registrable_domain(first)
    return bool(first_site) and first_site == registrable_domain(second)


def _is_site_root(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.path in ("", "/") and not parts.query


def prefer_page_canonical(
    entry_url: str, page_canonical: str | None = None, og_url: str | None = None
) -> str | None:
    """The article's canonical URL after its page was fetched.

    The page's ``<link rel=canonical>`` (then ``og:url``) wins when it is on the same site as
    the entry URL: publishers use it to collapse print/AMP/tracking variants. A canonical on
    another site is ignored (a syndicating or hostile page must not be able to claim another
    publisher's story id), and so is a canonical pointing at the site's home page when the
    entry is not the home page (a common CMS misconfiguration that would merge every story).
    Relative canonicals are resolved against the entry URL.
    """
    entry = canonicalize_url(entry_url)
    if entry is None:
        return None
    for declared in (page_canonical, og_url):
        candidate = canonicalize_url(declared, base=entry) if declared else None
        if candidate is None or not same_site(entry, candidate):
            continue
        if _is_site_root(candidate) and not _is_site_root(entry):
            continue
        return candidate
    return entry
