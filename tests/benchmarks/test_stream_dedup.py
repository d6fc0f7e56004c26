"""The streaming dedup benchmark's direct driver stands in for the graph: both must agree."""

from __future__ import annotations

import pytest

from benchmarks import stream_dedup as bench
from transforms.dedup.minhash import MinHashConfig


@pytest.mark.slow  # one TestStream run of 60 stories
def test_direct_driver_decides_and_holds_state_as_the_graph_does() -> None:
    stories, truth = bench.synthetic(60, seed=3)
    # minutes apart, so every story is its own pane in the graph as in the direct driver
    timed = bench.arrivals(stories, seed=3, interval=600.0)
    graph = bench.run_teststream(timed, MinHashConfig())
    direct = bench.run_direct(timed, MinHashConfig())

    def clusters(result: dict) -> list[tuple[str, str]]:
        rows = result["assignments"]["ok"] + result["assignments"]["duplicates"]
        return sorted((row["id"], row["cluster_id"]) for row in rows)

    assert len(clusters(direct)) == 60
    assert clusters(direct) == clusters(graph)
    assert sum(len(members) - 1 for members in truth.values()) == len(
        direct["assignments"]["duplicates"]
    )
    assert direct["state_bytes_by_cell"] == graph["state_bytes_by_cell"]
