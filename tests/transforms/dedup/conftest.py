"""One batch run over the independent scenarios, shared by the modules that read slices of it."""

from __future__ import annotations

import pytest

from tests.transforms.dedup.helpers import run_dedup, scenarios


@pytest.fixture(scope="session")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    records, counters = run_dedup(tmp_path_factory.mktemp("scenarios"), scenarios())
    by_output = {key: {r["story_id"]: r for r in rows} for key, rows in records.items()}
    by_output["counters"] = counters
    by_output["records"] = records
    return by_output
