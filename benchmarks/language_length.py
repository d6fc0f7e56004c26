"""How much text does language identification need? Measured on real news pages, not samples.

    python -m benchmarks.language_length ../shared/data [--json OUT]

The language stage reads the first ``max_chars`` characters of title + body; lingua's cost grows
with the length. On every page of the extraction evaluation sets (real news pages in many
languages), this runs the identifier on the story text our extraction produces at several sample
lengths and reports, for each, how many answers (language and ``und``) differ from the longest
sample, CPU per story, and how often lingua alone decided (langdetect not asked).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from benchmarks import figures_json
from benchmarks.extraction import page_record
from benchmarks.second_pass import sets_under
from transforms.core.records import Story
from transforms.extract.config import ExtractConfig
from transforms.extract.story import extract_story
from transforms.language.identifier import LangIdConfig, LanguageIdentifier
from transforms.language.stage import text_for_detection

LENGTHS = (500, 1000, 1500, 2000, 3000, 6000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="folder holding the evaluation sets")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    stories: list[Story] = []
    for _name, (_metric, pages) in sets_under(args.data).items():
        for page in pages:
            result = extract_story(page_record(page), ExtractConfig())
            if isinstance(result, Story):
                stories.append(result)
    answers: dict[int, list[str]] = {}
    figures: dict[str, dict] = {}
    warm = LanguageIdentifier(LangIdConfig(max_chars=LENGTHS[-1]))
    for story in stories:  # lingua loads each language's models on first need: not timed
        warm.detect(text_for_detection(story), story.page_language)
    for length in LENGTHS:
        identifier = LanguageIdentifier(LangIdConfig(max_chars=length))
        methods: Counter[str] = Counter()
        started = time.process_time()
        guesses = [identifier.detect(text_for_detection(s), s.page_language) for s in stories]
        cpu = time.process_time() - started
        answers[length] = [g.language for g in guesses]
        methods.update(g.method for g in guesses)
        figures[str(length)] = {"cpu_ms_per_story": round(1000 * cpu / len(stories), 2)}
        figures[str(length)]["methods"] = dict(sorted(methods.items()))
    longest = answers[LENGTHS[-1]]
    for length in LENGTHS:
        differ = sum(a != b for a, b in zip(answers[length], longest, strict=True))
        figures[str(length)]["answers_differing_from_longest"] = differ
        print(f"{length:>6} chars: {figures[str(length)]}")
    result = {"stories": len(stories), "languages": Counter(longest), "by_length": figures}
    print(f"{len(stories)} stories; languages {dict(Counter(longest).most_common(12))}")
    if args.json:
        figures_json(result, args.json, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
