"""Benchmarks: each prints its figures and ratios, and writes them as JSON with ``--json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def figures_json(figures: Any, path: str | Path | None = None, *, sort_keys: bool = False) -> str:
    """The figures as indented JSON, also written to ``path`` (folders made) when one is given.

    One format for every benchmark, so results compare with a plain diff.
    """
    text = json.dumps(figures, indent=2, sort_keys=sort_keys, ensure_ascii=False)
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")
    return text
