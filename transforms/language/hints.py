"""Language hints: the language a page or a feed declares, normalised to ISO 639-1.

A declaration is evidence, not an answer (templates keep ``lang="en"`` on translations), so the
identifier weighs it as a prior; the extract stage reads it from the page head here.
"""

from __future__ import annotations

import re


def normalise_hint(value: str | None) -> str | None:
    """Reduce ``en-GB``, ``pt_BR``, ``zh-Hant``, ``EN`` to an ISO 639-1 code (or None)."""
    if not value:
        return None
    code = re.split(r"[-_\s]", value.strip().lower(), maxsplit=1)[0]
    if code in ("no", "nob"):
        return "nb"
    if code == "nno":
        return "nn"
    if len(code) == 2 and code.isalpha():
        return code
    if len(code) == 3 and code.isalpha():
        try:
            import pycountry

            found = pycountry.languages.get(alpha_3=code)
        except (ImportError, LookupError, KeyError):
            return None
        return getattr(found, "alpha_2", None)
    return None


_HTML_LANG = re.compile(
    r"<html\b[^>]*?\s(?:xml:)?lang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.I
)
_META_LANG = (
    re.compile(
        r"<meta\b[^>]*?http-equiv\s*=\s*[\"']?content-language[\"']?[^>]*?content\s*=\s*"
        r"[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)",
        re.I,
    ),
    re.compile(
        r"<meta\b[^>]*?property\s*=\s*[\"']?og:locale[\"']?[^>]*?content\s*=\s*"
        r"[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)",
        re.I,
    ),
)


def page_language_of(html: str, head_chars: int = 20000) -> str | None:
    """The language a page declares (``<html lang>``, Content-Language, og:locale), normalised.

    trafilatura does not return the page's ``lang`` attribute, so the extract stage reads it
    here; only the head of the document is scanned. A declaration is a hint: templates often
    keep ``lang="en"`` on every translation, which is why DetectLanguage weighs it, no more.
    """
    head = (html or "")[:head_chars]
    for pattern in (_HTML_LANG, *_META_LANG):
        found = pattern.search(head)
        if found:
            code = normalise_hint(found.group(1))
            if code:
                return code
    return None
