"""YAML parsed with libyaml when PyYAML has it: the same documents, a tenth of the CPU.

Every worker parses the bundled rule files at start-up (taxonomy, agencies, cleaning rules,
language markers: about 160 ms with PyYAML's pure-Python parser, 17 ms with libyaml's). Both
parsers feed the same safe constructor, so a valid document gives the same objects. An invalid
one is parsed again by the pure-Python parser, so the error raised (message, line and column,
which the rule-file and feed-list checks quote) is exactly the one it always was.
"""

from __future__ import annotations

from typing import Any


def safe_load(text: str | bytes) -> Any:
    """``yaml.safe_load``, by libyaml when available.

    A document nested deeper than Python's recursion limit (``[[[[…]]]]`` thousands deep, in a
    feed list or a rule file) makes either parser raise ``RecursionError``; it is reported as
    the ``YAMLError`` it is, so every caller's check names the file and exits 2 instead of
    crashing with a traceback.
    """
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", None)
        if loader is None:
            return yaml.safe_load(text)
        try:
            return yaml.load(text, Loader=loader)  # the safe loader, in C
        except yaml.YAMLError:
            return yaml.safe_load(text)  # raises the pure-Python parser's own error
    except RecursionError:
        raise yaml.YAMLError("nested too deeply to be read") from None
