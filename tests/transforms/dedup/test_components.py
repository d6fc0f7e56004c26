"""Connected components in Beam against plain union-find."""

from __future__ import annotations

import json
import random
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.dedup.components import ConnectedComponents


def test_connected_components_match_union_find(tmp_path: Path) -> None:
    rng = random.Random(3)
    edges: list[tuple[str, str]] = []
    for g in range(25):
        nodes = [f"g{g:02d}-{rng.randrange(10**6):06d}" for _ in range(rng.randrange(2, 12))]
        for _ in range(rng.randrange(1, 15)):
            a, b = rng.sample(nodes, 2)
            edges.append((min(a, b), max(a, b)))
    chain = [f"path-{n:03d}" for n in range(80)]  # long path: needs the residual finish
    edges += [(chain[n], chain[n + 1]) for n in range(79)]

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    expected = sorted((node, find(node)) for node in list(parent))

    out = tmp_path / "labels"
    p = beam.Pipeline(options=PipelineOptions(flags=[], runner="DirectRunner"))
    _ = (
        p
        | beam.Create(edges)
        | ConnectedComponents(rounds=1)
        | beam.Map(json.dumps)
        | beam.io.WriteToText(str(out))
    )
    result = p.run()
    result.wait_until_finish()
    got = sorted(
        tuple(json.loads(line))
        for path in tmp_path.glob("labels-*")
        for line in path.read_text().splitlines()
    )
    assert got == expected
    residual = result.metrics().query(MetricsFilter().with_name("dedup_components_residual_edges"))[
        "counters"
    ]
    assert residual and residual[0].committed > 0
