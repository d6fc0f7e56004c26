"""Connected components of verified near-duplicate edges, in Beam, without one big worker.

Alternating large-star and small-star rounds (Kiveris et al., "Connected Components in MapReduce
and Beyond", 2014): each round is one GroupByKey by node and relinks neighbours to the smallest id
seen, so after a few rounds every component is a star around its smallest id. After ``rounds``
rounds a keyed check finds nodes that are not yet in a clean star (a node with two parents, or
both a parent and children); only the edges touching those go to a single ``Residual`` key, which
finishes them with union-find and relabels the stars hanging off them through a side input. On
the neardup-wire set the residual is empty after two rounds (counter
``dedup_components_residual_edges``); a long chain of 80 stories needs it (see the tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

NAMESPACE = "wirestream"
RESIDUAL_KEY = "residual"


def _both_ways(edge: tuple[str, str]) -> Iterator[tuple[str, str]]:
    a, b = edge
    yield a, b
    yield b, a


def _large_star(element: tuple[str, Iterable[str]]) -> Iterator[tuple[str, str]]:
    node, neighbours = element
    neighbours = set(neighbours)
    smallest = min(neighbours | {node})
    for other in sorted(neighbours):
        if other > node and other != smallest:
            yield smallest, other


def _to_larger(edge: tuple[str, str]) -> tuple[str, str]:
    a, b = edge
    return (max(a, b), min(a, b))


def _small_star(element: tuple[str, Iterable[str]]) -> Iterator[tuple[str, str]]:
    node, smaller = element
    group = set(smaller) | {node}
    smallest = min(group)
    for other in sorted(group):
        if other != smallest:
            yield smallest, other


def _roles(edge: tuple[str, str]) -> Iterator[tuple[str, tuple[str, str]]]:
    a, b = sorted(edge)
    yield b, ("parent", a)
    yield a, ("child", b)


def _settle(element: tuple[str, Iterable[tuple[str, str]]]) -> Iterator:
    node, roles = element
    roles = sorted(set(roles))
    parents = [other for role, other in roles if role == "parent"]
    children = [other for role, other in roles if role == "child"]
    if len(parents) > 1 or (parents and children):
        for role, other in roles:
            edge = (other, node) if role == "parent" else (node, other)
            yield beam.pvalue.TaggedOutput("residual", (RESIDUAL_KEY, edge))
        return
    yield node, (parents[0] if parents else node)


def _union_find(element: tuple[str, Iterable[tuple[str, str]]]) -> Iterator[tuple[str, str]]:
    _, edges = element
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    count = 0
    for a, b in edges:
        count += 1
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    Metrics.counter(NAMESPACE, "dedup_components_residual_edges").inc(count)
    for node in sorted(parent):
        yield node, find(node)


def _relabel(entry: tuple[str, str], residual: dict[str, str]) -> Iterator[tuple[str, str]]:
    node, label = entry
    if node not in residual:  # residual nodes get their label from the union-find directly
        yield node, residual.get(label, label)


class ConnectedComponents(beam.PTransform):
    """Edges (a, b) -> (node, smallest node id of its component) for every node with an edge."""

    def __init__(self, rounds: int = 2) -> None:
        super().__init__()
        self._rounds = rounds

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        for n in range(self._rounds):
            edges = (
                edges
                | f"LargeStarKey{n}" >> beam.FlatMap(_both_ways)
                | f"LargeStarGroup{n}" >> beam.GroupByKey()
                | f"LargeStar{n}" >> beam.FlatMap(_large_star)
                | f"SmallStarKey{n}" >> beam.Map(_to_larger)
                | f"SmallStarGroup{n}" >> beam.GroupByKey()
                | f"SmallStar{n}" >> beam.FlatMap(_small_star)
            )
        settled = (
            edges
            | "RoleKey" >> beam.FlatMap(_roles)
            | "RoleGroup" >> beam.GroupByKey()
            | "Settle" >> beam.FlatMap(_settle).with_outputs("residual", main="settled")
        )
        residual = (
            settled.residual
            | "ResidualGroup" >> beam.GroupByKey()
            | "ResidualUnionFind" >> beam.FlatMap(_union_find)
        )
        relabelled = settled.settled | "Relabel" >> beam.FlatMap(
            _relabel, residual=beam.pvalue.AsDict(residual)
        )
        return (relabelled, residual) | "AllLabels" >> beam.Flatten()
