"""Language identification: langdetect as the named default, checked by script and by lingua.

Why a combination and not langdetect alone: langdetect knows 55 languages and is *confidently*
wrong on the ones it does not know (Belarusian → uk/ru, Serbian → mk, Bosnian → hr, Azerbaijani
→ tr, Armenian and Georgian → et), which for a pipeline about Belarus is a defect, not noise.
Measured on the shared lingua test sentences (see ``benchmarks/language.py``), when langdetect
and lingua disagree lingua is right about 95% of the time and langdetect about 4%, so the
decision is:

1. too few letters → ``und`` (nothing can be told from a handful of characters);
2. a script that belongs to one language (Armenian, Georgian, Hangul, kana, Thai, Greek, …) →
   that language, without any model;
3. otherwise lingua (all 75 languages) answers; langdetect (seeded, private factory) is asked
   only when lingua is unsure (below ``LanguageIdentifier.lingua_sure``, 0.9 with the default
   threshold, the point from which langdetect's vote cannot change the answer): when it agrees
   the probability is the mean of both, when it disagrees lingua's; below the probability
   threshold the answer is ``und`` (the best candidate is kept as the runner-up);
4. inside groups of near-identical standard languages (Malay/Indonesian, Bosnian/Croatian/
   Serbian, Bokmål/Nynorsk) the spelling and vocabulary of each standard decide, because
   character n-gram models cannot (lingua answers Croatian for most Bosnian). The markers are
   data (``transforms/data/language_markers.yaml``: words, stems for inflected forms, suffix
   doublets, weighted usage patterns); evidence shared by two members only narrows the field,
   evidence split between two members leaves them to lingua, and a thin margin is ``und``.

The page's ``lang`` attribute and the feed's language are evidence: they multiply the prior of
their language (a likelihood ratio), so they break near-ties but never overturn a confident
detection (a 3× prior cannot lift 0.01 over 0.99).

Everything is deterministic: langdetect's sampler is seeded per call, lingua is deterministic, and
probabilities are rounded so that float summation order cannot change an output.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from transforms.language.hints import normalise_hint
from transforms.language.markers import GROUP_OF, MARKERS, marker_hits

logger = logging.getLogger(__name__)

UND = "und"

#: langdetect lists only languages above this probability (``Detector.PROB_THRESHOLD``).
_LANGDETECT_FLOOR = 0.1

#: langdetect's codes that are not ISO 639-1 as lingua writes them.
_LANGDETECT_TO_ISO = {"zh-cn": "zh", "zh-tw": "zh", "no": "nb"}

#: Scripts that identify one language among everything we can be sent. Ranges are the Unicode
#: blocks (main block plus the extended/supplement blocks that news text actually uses).
_UNIQUE_SCRIPT_LANGUAGE = {
    "Armenian": "hy",
    "Georgian": "ka",
    "Hangul": "ko",
    "Kana": "ja",
    "Thai": "th",
    "Greek": "el",
    "Hebrew": "he",
    "Gujarati": "gu",
    "Gurmukhi": "pa",
    "Bengali": "bn",
    "Tamil": "ta",
    "Telugu": "te",
    "Kannada": "kn",
    "Malayalam": "ml",
    "Sinhala": "si",
    "Lao": "lo",
    "Khmer": "km",
    "Myanmar": "my",
}

_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "Latin"),
    (0x0250, 0x02AF, "Latin"),
    (0x0370, 0x03FF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"),
    (0x0530, 0x058F, "Armenian"),
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0750, 0x077F, "Arabic"),
    (0x0900, 0x097F, "Devanagari"),
    (0x0980, 0x09FF, "Bengali"),
    (0x0A00, 0x0A7F, "Gurmukhi"),
    (0x0A80, 0x0AFF, "Gujarati"),
    (0x0B80, 0x0BFF, "Tamil"),
    (0x0C00, 0x0C7F, "Telugu"),
    (0x0C80, 0x0CFF, "Kannada"),
    (0x0D00, 0x0D7F, "Malayalam"),
    (0x0D80, 0x0DFF, "Sinhala"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Lao"),
    (0x1000, 0x109F, "Myanmar"),
    (0x10A0, 0x10FF, "Georgian"),
    (0x1100, 0x11FF, "Hangul"),
    (0x1780, 0x17FF, "Khmer"),
    (0x1C80, 0x1C8F, "Cyrillic"),
    (0x1C90, 0x1CBF, "Georgian"),
    (0x1E00, 0x1EFF, "Latin"),
    (0x1F00, 0x1FFF, "Greek"),
    (0x2D00, 0x2D2F, "Georgian"),
    (0x2DE0, 0x2DFF, "Cyrillic"),
    (0x3040, 0x309F, "Kana"),
    (0x30A0, 0x30FF, "Kana"),
    (0x3130, 0x318F, "Hangul"),
    (0x31F0, 0x31FF, "Kana"),
    (0x3400, 0x4DBF, "Han"),
    (0x4E00, 0x9FFF, "Han"),
    (0xA640, 0xA69F, "Cyrillic"),
    (0xAC00, 0xD7AF, "Hangul"),
    (0xF900, 0xFAFF, "Han"),
    (0xFB1D, 0xFB4F, "Hebrew"),
    (0xFB50, 0xFDFF, "Arabic"),
    (0xFE70, 0xFEFF, "Arabic"),
    (0xFF66, 0xFF9F, "Kana"),
)
_RANGE_STARTS = [start for start, _, _ in _SCRIPT_RANGES]

#: Letters only Vietnamese uses among lingua's languages (ă â đ ê ô ơ ư, the hook above and the
#: tilde on vowels, in every tone). lingua treats a few tone-marked vowels that Yoruba shares
#: (ẹ̀, ọ̀, à) as proof of Vietnamese and answers ``vi`` with 1.0 on Yoruba; without one of these
#: letters a text is not Vietnamese.
_VIETNAMESE_ONLY = re.compile(
    "[ăâđêôơưĂÂĐÊÔƠƯấầẩẫậắằẳẵặếềểễệốồổỗộớờởỡợứừửữựảẻỉỏủỷẢẺỈỎỦỶãẽĩõũỹÃẼĨÕŨỸ]"
)

#: Kazakh's own Cyrillic letters; lingua sometimes answers kk for Ukrainian or Russian without
#: any of them, and a Kazakh sentence nearly always has one.
_KAZAKH_ONLY = re.compile("[әғқңөұүһӘҒҚҢӨҰҮҺ]")

#: Languages lingua over-answers, with letters that a text in them almost always has.
_REQUIRED_LETTERS = {"vi": _VIETNAMESE_ONLY, "kk": _KAZAKH_ONLY}

# Web and mail addresses are left out of the sample: they are not language. The meaning is that of
# the pattern r"(?:https?://|www\.)\S+|\S+@\S+\.\w+" replaced by a space, computed in linear time:
# that pattern, applied as is, backtracks from every position of a long run without spaces (CJK
# text: 0.3 s for 10,000 characters) and from every "@" (minutes for a few thousand).
_URL = re.compile(r"(?:https?://|www\.)\S+")
# A whole run of non-spaces holding an "@" (found from the run's start only, so linear), or a URL.
_AT_RUN_OR_URL = re.compile(r"(?<!\S)[^\s@]*@\S*|(?:https?://|www\.)\S+")
_WORD_RUN = re.compile(r"\w+")


def _mail_end(run: str) -> int | None:
    r"""Where ``\S+@\S+\.\w+`` matching at the start of ``run`` (no spaces) ends, or None.

    The pattern's greedy parts settle on the run's last "." followed by a word character; it
    matches when an "@" lies at least one character after the start and two before that dot,
    and ends with the word characters after the dot. Found with ``rfind``/``find``: linear.
    """
    dot = run.rfind(".", 0, len(run) - 1)
    while dot != -1 and not _WORD_RUN.match(run, dot + 1):
        dot = run.rfind(".", 0, dot)
    if dot < 3 or run.find("@", 1, dot - 1) == -1:  # "x@y.z" is the shortest
        return None
    word = _WORD_RUN.match(run, dot + 1)
    return word.end() if word else None


def _strip_at_run(found: re.Match[str]) -> str:
    run = found.group()
    if "@" not in run or _URL.match(run):
        return " "  # a URL (at a run's start it takes the whole run)
    # Only at a run's start can the mail pattern match: where it fails there it fails later in
    # the run too, and after a match no "." followed by a word character is left for another.
    end = _mail_end(run)
    return _URL.sub(" ", run) if end is None else " " + _URL.sub(" ", run[end:])


def strip_addresses(text: str) -> str:
    """``text`` with web and mail addresses replaced by a space (see ``_URL`` above)."""
    if "@" not in text:
        return _URL.sub(" ", text)
    return _AT_RUN_OR_URL.sub(_strip_at_run, text)


@dataclass(frozen=True)
class LanguageGuess:
    """The answer for one text: an ISO 639-1 code or ``und``, how sure, and the next best.

    ``method`` says which rule decided (``script``, ``langdetect``, ``lingua``, ``markers``,
    ``too_short``, ``low_confidence``); the stage counts it so a run shows how often lingua had
    to overrule langdetect.
    """

    language: str
    probability: float
    runner_up: str | None
    method: str = ""


@dataclass(frozen=True)
class LangIdConfig:
    """Knobs of the identifier; defaults are the measured operating point (see the README)."""

    min_chars: int = 12  # letters (not characters) below which the answer is und
    threshold: float = 0.5  # final probability below which the answer is und
    close_margin: float = 0.9  # within a close group and no markers: und below this (short text)
    engine: str = "combined"  # combined | langdetect | lingua
    max_chars: int = 3000  # the text sample the models read; news leads say it all
    seed: int = 0
    lingua_low_accuracy: bool = False
    preload_models: bool = False
    page_lang_weight: float = 3.0  # likelihood ratio given to the page's lang attribute
    feed_hint_weight: float = 2.0  # and to the feed's declared language

    def __post_init__(self) -> None:
        if self.engine not in ("combined", "langdetect", "lingua"):
            raise ValueError(
                f"language engine must be combined, langdetect or lingua, not {self.engine!r}"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"language threshold must be within [0, 1], not {self.threshold}")
        if self.min_chars < 0 or self.max_chars < 1:
            raise ValueError("language min_chars must be >= 0 and max_chars >= 1")


def script_of(ch: str) -> str | None:
    point = ord(ch)
    index = bisect.bisect_right(_RANGE_STARTS, point) - 1
    if index >= 0:
        start, end, name = _SCRIPT_RANGES[index]
        if start <= point <= end:
            return name
    return None


def script_profile(text: str) -> tuple[int, dict[str, int]]:
    """Count letters and letters per script (unknown scripts under ``Other``).

    Each distinct character is looked up once (``Counter`` tallies them in C): a 3,000-character
    sample holds a few dozen distinct letters, so this costs a fraction of a lookup per character.
    """
    counts: dict[str, int] = {}
    letters = 0
    for ch, n in Counter(text).items():
        if not ch.isalpha():
            continue
        letters += n
        name = script_of(ch) or "Other"
        counts[name] = counts.get(name, 0) + n
    return letters, counts


def _rounded(value: float) -> float:
    return round(float(value), 4)


class LanguageIdentifier:
    """Built once per worker process (the lingua models take ~1 GB and seconds to load)."""

    def __init__(self, config: LangIdConfig | None = None) -> None:
        self.config = config or LangIdConfig()
        self._factory: Any = None
        self._lingua: Any = None
        self._lingua_without: dict[str, Any] = {}
        self._lingua_codes: dict[Any, str] = {}
        self.langdetect_languages: frozenset[str] = frozenset()
        self._load()

    # -- construction --------------------------------------------------------------------------
    def _load(self) -> None:
        import os

        from langdetect.detector_factory import PROFILES_DIRECTORY

        # langdetect's profiles (~0.5 s of CPU to load) are read on first need: with lingua
        # deciding first, many workers never ask langdetect. Its languages are its profile files.
        self._factory_lock = threading.Lock()
        self.langdetect_languages = frozenset(
            _LANGDETECT_TO_ISO.get(code, code) for code in os.listdir(str(PROFILES_DIRECTORY))
        )
        if self.config.engine == "langdetect":
            return
        from lingua import Language, LanguageDetectorBuilder

        def build(builder: Any) -> Any:
            if self.config.lingua_low_accuracy:
                builder = builder.with_low_accuracy_mode()
            if self.config.preload_models:
                builder = builder.with_preloaded_language_models()
            return builder.build()

        # lingua keeps its models in one process-wide cache, so the detectors used to re-ask
        # without a language that a text cannot be in cost no extra memory.
        self._lingua = build(LanguageDetectorBuilder.from_all_languages())
        self._lingua_without = {
            code: build(LanguageDetectorBuilder.from_all_languages_without(language))
            for code, language in (("vi", Language.VIETNAMESE), ("kk", Language.KAZAKH))
        }
        self._lingua_codes = {
            language: language.iso_code_639_1.name.lower() for language in Language.all()
        }

    @property
    def lingua_sure(self) -> float:
        """lingua's probability from which langdetect's vote cannot change the language answered.

        The answer is always lingua's language; langdetect only lifts the probability to the mean
        of the two when it agrees, which matters when the mean crosses ``threshold``. langdetect
        reports only languages above 0.1 (and the priors renormalise over at most nine of them,
        so its top stays above 0.1): with lingua at ``2 * threshold - 0.1`` or more the mean is
        above the threshold whether langdetect is asked or not, so it is not asked. Only the
        probability written differs (lingua's instead of the mean), never the language.
        """
        return 2 * self.config.threshold - _LANGDETECT_FLOOR

    # -- evidence ------------------------------------------------------------------------------
    def _langdetect_factory(self) -> Any:
        with self._factory_lock:
            if self._factory is None:
                from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

                # A private factory: the module-level one is global state shared with any other
                # user of langdetect in the process, and its seed is a class attribute.
                factory = DetectorFactory()
                factory.load_profile(PROFILES_DIRECTORY)
                factory.seed = self.config.seed
                self._factory = factory
            return self._factory

    def langdetect_probabilities(self, text: str) -> list[tuple[str, float]]:
        from langdetect.lang_detect_exception import LangDetectException

        detector = self._langdetect_factory().create()
        detector.set_max_text_length(self.config.max_chars)
        detector.append(text)
        try:
            ranked = detector.get_probabilities()
        except LangDetectException:
            return []
        merged: dict[str, float] = {}
        for item in ranked:
            code = _LANGDETECT_TO_ISO.get(item.lang, item.lang)
            merged[code] = merged.get(code, 0.0) + item.prob
        return sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))

    def lingua_probabilities(self, text: str) -> list[tuple[str, float]]:
        ranked = self._lingua_ranked(self._lingua, text)
        top = ranked[0][0] if ranked else None
        if top in _REQUIRED_LETTERS and not _REQUIRED_LETTERS[top].search(text):
            ranked = self._lingua_ranked(self._lingua_without[top], text)
        return ranked

    def _lingua_ranked(self, detector: Any, text: str) -> list[tuple[str, float]]:
        values = detector.compute_language_confidence_values(text)
        ranked = [(self._lingua_codes[v.language], v.value) for v in values if v.value > 0]
        return sorted(ranked, key=lambda kv: (-kv[1], kv[0]))

    @staticmethod
    def marker_votes(text: str, group: str) -> dict[str, float]:
        votes = dict.fromkeys(MARKERS[group].members, 0.0)
        for members, weight in marker_hits(text, group):
            for lang in members:
                votes[lang] += weight
        return votes

    # -- decision ------------------------------------------------------------------------------
    def detect(
        self, text: str, page_lang: str | None = None, feed_hint: str | None = None
    ) -> LanguageGuess:
        """Identify the language of ``text``; hints shift priors, they never decide alone."""
        cfg = self.config
        sample = strip_addresses(unicodedata.normalize("NFC", text or ""))
        sample = " ".join(sample.split())[: cfg.max_chars]
        letters, scripts = script_profile(sample)
        if letters < cfg.min_chars:
            return LanguageGuess(UND, 0.0, None, "too_short")

        dominant = max(sorted(scripts), key=lambda name: scripts[name])
        if cfg.engine != "langdetect":
            if scripts.get("Kana", 0) >= 0.05 * letters and (
                scripts.get("Kana", 0) + scripts.get("Han", 0) >= 0.5 * letters
            ):
                return LanguageGuess("ja", 1.0, "zh" if scripts.get("Han") else None, "script")
            if dominant == "Han" and scripts[dominant] >= 0.5 * letters:
                return LanguageGuess("zh", 1.0, None, "script")
            unique = _UNIQUE_SCRIPT_LANGUAGE.get(dominant)
            if unique and scripts[dominant] >= 0.5 * letters:
                return LanguageGuess(unique, 1.0, None, "script")

        priors: dict[str, float] = {}
        for hint, weight in (
            (normalise_hint(page_lang), cfg.page_lang_weight),
            (normalise_hint(feed_hint), cfg.feed_hint_weight),
        ):
            if hint:
                priors[hint] = priors.get(hint, 1.0) * weight

        if cfg.engine == "langdetect":
            ld = _apply_priors(self.langdetect_probabilities(sample), priors)
            return self._decide(ld, "langdetect", None)

        lg = _apply_priors(self.lingua_probabilities(sample), priors)
        if (
            cfg.engine == "lingua"
            or not lg
            or lg[0][0] not in self.langdetect_languages
            or lg[0][1] >= self.lingua_sure
        ):
            # langdetect cannot agree on a language it has no model for, and cannot change the
            # answer when lingua is sure (see ``lingua_sure``): skip its ~5 ms.
            return self._decide(lg, "lingua", sample, lg, priors)
        ld = _apply_priors(self.langdetect_probabilities(sample), priors)
        if ld and ld[0][0] == lg[0][0]:
            # Agreement: langdetect's answer, with the mean of the two probabilities. Measured:
            # the mean answers nearly as often as the max (agreement rescues texts lingua alone
            # is unsure of) without the max's confident errors on two-word texts, where
            # langdetect says 0.99 about almost anything.
            ranked = [(lg[0][0], (ld[0][1] + lg[0][1]) / 2), *lg[1:]]
            return self._decide(ranked, "langdetect", sample, lg, priors)
        return self._decide(lg, "lingua", sample, lg, priors)

    def _decide(
        self,
        ranked: list[tuple[str, float]],
        method: str,
        sample: str | None,
        lingua_ranked: list[tuple[str, float]] | None = None,
        priors: Mapping[str, float] | None = None,
    ) -> LanguageGuess:
        cfg = self.config
        if not ranked:
            return LanguageGuess(UND, 0.0, None, "low_confidence")
        best, prob = ranked[0]
        runner_up = ranked[1][0] if len(ranked) > 1 else None
        group = GROUP_OF.get(best)
        if sample is not None and lingua_ranked and group is not None:
            return self._decide_in_group(
                group, best, prob, method, sample, lingua_ranked, priors or {}
            )
        if prob < cfg.threshold:
            return LanguageGuess(UND, _rounded(prob), best, "low_confidence")
        return LanguageGuess(best, _rounded(prob), runner_up, method)

    def _decide_in_group(
        self,
        group: str,
        best: str,
        prob: float,
        method: str,
        sample: str,
        lingua_ranked: list[tuple[str, float]],
        priors: Mapping[str, float],
    ) -> LanguageGuess:
        """Pick a member of a close group: markers, then a hint, then lingua's in-group odds.

        Markers decide when the evidence that separates the two leading members points one way
        at least two to one; shared evidence (ijekavian spelling for Croatian and Bosnian) only
        narrows the field, and evidence split between two members (a Malay page quoting
        Indonesian) leaves those two to the hint and to lingua, where a thin margin is ``und``.

        The text has already settled the group; only then may the page's or feed's declared
        language choose the member, and only when no marker word contradicts it.

        langdetect's confidence says nothing here (it does not know bs, sr-Latin, ms or nn and
        answers hr/id/nb with ~1.0 for them), so only lingua's share of the group mass counts.
        """
        cfg = self.config
        lingua = dict(lingua_ranked)
        members = sorted(MARKERS[group].members, key=lambda code: (-lingua.get(code, 0.0), code))
        group_mass = sum(lingua.get(code, 0.0) for code in members)
        if group_mass < cfg.threshold:
            return LanguageGuess(UND, _rounded(prob), best, "low_confidence")
        hits = marker_hits(sample, group)
        votes = {code: sum(w for hit, w in hits if code in hit) for code in members}
        contenders = members
        if hits:
            order = sorted(members, key=lambda code: -votes[code])  # stable: lingua breaks ties
            top, second = order[0], order[1]
            tied = [code for code in order if votes[code] == votes[top]]
            if len(tied) == 1:
                for_top = sum(w for hit, w in hits if top in hit and second not in hit)
                for_second = sum(w for hit, w in hits if second in hit and top not in hit)
                if for_top > 0 and for_top >= 2 * for_second:
                    return LanguageGuess(top, _rounded(group_mass), second, "markers")
                contenders = [top, second]
            elif len(tied) < len(members):
                contenders = tied
            contenders = sorted(contenders, key=lambda code: (-lingua.get(code, 0.0), code))
        hinted = sorted(
            (code for code in contenders if priors.get(code, 1.0) > 1.0),
            key=lambda code: (-priors[code], code),
        )
        if hinted:
            runner_up = next(code for code in members if code != hinted[0])
            return LanguageGuess(hinted[0], _rounded(group_mass), runner_up, "hint")
        leader = contenders[0]
        runner_up = next(code for code in members if code != leader)
        contender_mass = sum(lingua.get(code, 0.0) for code in contenders)
        share = lingua.get(leader, 0.0) / contender_mass if contender_mass > 0 else 0.0
        if share < cfg.close_margin:
            return LanguageGuess(UND, _rounded(share * group_mass), leader, "low_confidence")
        if prob < cfg.threshold:
            return LanguageGuess(UND, _rounded(prob), leader, "low_confidence")
        return LanguageGuess(leader, _rounded(prob), runner_up, method)


def _apply_priors(
    ranked: Iterable[tuple[str, float]], priors: Mapping[str, float]
) -> list[tuple[str, float]]:
    """Bayes with the hints as likelihood ratios: renormalised, ties broken by code."""
    ranked = list(ranked)
    if not priors or not ranked:
        return ranked
    weighted = [(code, p * priors.get(code, 1.0)) for code, p in ranked]
    total = sum(p for _, p in weighted) or 1.0
    return sorted(((code, p / total) for code, p in weighted), key=lambda kv: (-kv[1], kv[0]))
