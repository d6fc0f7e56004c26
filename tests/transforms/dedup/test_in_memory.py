"""The in-process dedup loop decides like the Beam graph."""

from __future__ import annotations

import pytest

from tests.transforms.dedup.helpers import scenarios
from transforms.dedup import stage as dedup


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_in_memory_loop_decides_like_the_pipeline(scenario_run: dict) -> None:
    kept, copies = dedup.deduplicate_in_memory(scenarios())
    assert sorted(s.story_id for s in kept) == sorted(scenario_run["ok"])
    for copy in copies:
        expected = scenario_run["duplicates"][copy.story_id]
        assert copy.duplicate_of == expected["duplicate_of"]
        assert copy.duplicate_reason == expected["duplicate_reason"]
        assert copy.similarity == expected["similarity"]
