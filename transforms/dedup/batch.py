"""Batch exact + near-duplicate clustering in Beam: fingerprints in, one decision per story out.

The graph (every step keyed, nothing gathered on one worker except the documented residual):

1. ``SeenCheck`` (CoGroupByKey on story id, new vs stored): a story whose id is already in the
   fingerprint store was written by an earlier run and is not decided again (``already_stored``).
2. ``ExactGroups`` (GroupByKey on ``content_hash``): stories with the same normalised text form a
   group; a group holding a stored story joins that story's cluster at once (``same_text``); else
   its canonical-ordered first member represents the group in the near-duplicate steps, carrying
   the group size.
3. ``BandBuckets`` (GroupByKey on 9-byte band keys, values are story ids only): each bucket
   proposes candidate pairs. A bucket of up to ``max_bucket_size`` members proposes all pairs; a
   bigger one (boilerplate, or a story copied hundreds of times) proposes only pairs with its two
   smallest ids as anchors, so work stays linear in the bucket and is counted
   (``dedup_buckets_capped``). Stored-stored pairs are never proposed: they were decided before.
4. ``VerifyPairs`` (two CoGroupByKeys that attach each side's fingerprint, then
   ``minhash.verify``): only verified pairs become edges, so LSH collisions never chain
   unrelated stories together.
5. ``Components``: connected components of the verified edges in a few keyed rounds
   (``transforms/dedup/components.py``).
6. ``ChooseCanonical`` (GroupByKey on component label): a component that touches a stored
   story joins the stored cluster (earliest canonical key among stored members); otherwise the
   canonical is the first in the canonical order (``transforms/dedup/canonical.py``: earliest
   published, then fewer cleaning hits, then longer text, then smallest id). Cluster ids are
   the canonical's story id, so they never change once written.
7. ``ResolveGroups``: exact-group members inherit their representative's decision.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.core.records import DeadLetter, Story
from transforms.dedup.canonical import story_key
from transforms.dedup.components import ConnectedComponents
from transforms.dedup.decisions import (
    ALREADY_STORED,
    CANONICAL,
    DUPLICATE,
    NEAR_DUPLICATE,
    SAME_TEXT,
    UPDATED_VERSION,
    Decision,
)
from transforms.dedup.minhash import Fingerprint, MinHashConfig, MinHasher, verify
from transforms.dedup.pairs import BandKeysFn, BucketPairsFn, VerifyCandidates
from transforms.dedup.store import ReadFingerprintStore, StoreConfig

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"


def _counter(name: str) -> Metrics.DelegatingCounter:
    return Metrics.counter(NAMESPACE, f"dedup_{name}")


def _singleton(fp: Fingerprint) -> Decision:
    _counter("canonical").inc()
    return Decision(fp.story_id, CANONICAL, fp.story_id, 1)


class FingerprintFn(beam.DoFn):
    """Story -> Fingerprint; the hasher (numpy arrays of permutation seeds) is built per worker."""

    def __init__(self, config: MinHashConfig) -> None:
        self._config = config
        self._empty = _counter("empty_text")

    def setup(self) -> None:
        self._hasher = MinHasher(self._config)

    def process(self, story: Story) -> Iterator[Fingerprint]:
        fingerprint = self._hasher.fingerprint(story)
        if fingerprint.empty:
            self._empty.inc()
        yield fingerprint


# ---------------------------------------------------------------------------------------------
# 1-2: already-stored check and exact groups


def _seen_split(element: tuple[str, dict[str, list[Fingerprint]]]) -> Iterator:
    story_id, grouped = element
    new, stored = grouped["new"], grouped["stored"]
    if not new:
        return
    if stored:
        cluster = min(stored, key=Fingerprint.canonical_key).cluster_id or story_id
        if max(fp.wire_version for fp in new) > max(fp.wire_version for fp in stored):
            # A newer version of an agency item an earlier run wrote: the same story, written
            # again under its id and in its cluster, never a near-duplicate of its old version.
            _counter("wire_version_rewritten").inc()
            yield beam.pvalue.TaggedOutput("decided", (story_id, _rewrite(story_id, cluster)))
            return
        _counter("already_stored").inc()
        yield beam.pvalue.TaggedOutput(
            "decided", (story_id, Decision(story_id, ALREADY_STORED, cluster))
        )
        return
    yield min(new, key=Fingerprint.canonical_key)


def _rewrite(story_id: str, cluster: str) -> Decision:
    """The decision for a newer version of a stored story: whatever its cluster made it."""
    if cluster == story_id:
        return Decision(story_id, CANONICAL, story_id, 1)
    return Decision(story_id, DUPLICATE, cluster, 1, cluster, UPDATED_VERSION, None)


class _ExactGroupFn(beam.DoFn):
    """One content hash: join a stored cluster, or elect a representative for near-dup."""

    def __init__(self) -> None:
        self._same_text = _counter("same_text")

    def process(self, element: tuple[str, Iterable[Fingerprint]]) -> Iterator:
        _, members = element
        members = list(members)
        new = sorted((fp for fp in members if not fp.stored), key=Fingerprint.canonical_key)
        for fp in (fp for fp in new if fp.empty):
            # No tokens, no evidence: an empty text is its own cluster, never "same" as another.
            yield beam.pvalue.TaggedOutput("decided", (fp.story_id, _singleton(fp)))
        new = [fp for fp in new if not fp.empty]
        if not new:
            return
        stored = sorted(
            (fp for fp in members if fp.stored and not fp.empty), key=Fingerprint.canonical_key
        )
        if stored:
            cluster = stored[0].cluster_id or stored[0].story_id
            for fp in new:
                self._same_text.inc()
                decision = Decision(
                    fp.story_id, DUPLICATE, cluster, len(members), cluster, SAME_TEXT, 1.0
                )
                yield beam.pvalue.TaggedOutput("decided", (fp.story_id, decision))
            return
        representative = new[0]
        yield dataclasses.replace(representative, group_size=len(new))
        for fp in new[1:]:
            yield beam.pvalue.TaggedOutput("members", (representative.story_id, fp))


# ---------------------------------------------------------------------------------------------
# 6-7: canonical choice and exact-group members


class _ChooseCanonicalFn(beam.DoFn):
    def __init__(self, config: MinHashConfig) -> None:
        self._config = config
        self._canonical = _counter("canonical")

    def process(self, element: tuple[str, Iterable[Fingerprint]]) -> Iterator:
        _, members = element
        members = sorted(members, key=Fingerprint.canonical_key)
        stored = [fp for fp in members if fp.stored]
        new = [fp for fp in members if not fp.stored]
        size = sum(fp.group_size for fp in new) + len(stored)
        if stored:
            anchor = stored[0]
            cluster = anchor.cluster_id or anchor.story_id
            anchor = next((fp for fp in stored if fp.story_id == cluster), anchor)
            duplicates = new
        else:
            anchor = new[0]
            cluster = anchor.story_id
            duplicates = new[1:]
            self._canonical.inc()
            yield anchor.story_id, Decision(anchor.story_id, CANONICAL, cluster, size)
        for fp in duplicates:
            verdict = verify(fp, anchor, self._config)
            reason = SAME_TEXT if fp.content_hash == anchor.content_hash else NEAR_DUPLICATE
            _counter(reason).inc()
            yield (
                fp.story_id,
                Decision(
                    fp.story_id, DUPLICATE, cluster, size, cluster, reason, verdict.similarity
                ),
            )


def _join_label(element: tuple[str, dict[str, list]]) -> Iterator[tuple[str, Fingerprint]]:
    _, grouped = element
    if grouped["label"] and grouped["fp"]:
        yield grouped["label"][0], grouped["fp"][0]


class _ResolveGroupFn(beam.DoFn):
    """Representative's decision (or a fresh singleton cluster) for it and its same-text copies."""

    def __init__(self) -> None:
        self._canonical = _counter("canonical")
        self._same_text = _counter("same_text")

    def process(self, element: tuple[str, dict[str, list]]) -> Iterator[tuple[str, Decision]]:
        rep_id, grouped = element
        if not grouped["rep"]:
            return
        rep: Fingerprint = grouped["rep"][0]
        decision: Decision | None = grouped["decision"][0] if grouped["decision"] else None
        if decision is None:
            self._canonical.inc()
            decision = Decision(rep_id, CANONICAL, rep_id, rep.group_size)
        yield rep_id, decision
        for member in sorted(grouped["members"], key=Fingerprint.canonical_key):
            if decision.kind == CANONICAL:
                self._same_text.inc()
                copy = Decision(
                    member.story_id,
                    DUPLICATE,
                    decision.cluster_id,
                    decision.cluster_size,
                    rep_id,
                    SAME_TEXT,
                    1.0,
                )
            else:
                _counter(decision.reason or NEAR_DUPLICATE).inc()
                copy = Decision(
                    member.story_id,
                    DUPLICATE,
                    decision.cluster_id,
                    decision.cluster_size,
                    decision.duplicate_of,
                    decision.reason,
                    decision.similarity,
                )
            yield member.story_id, copy


class ClusterFingerprints(beam.PTransform):
    """New fingerprints (+ stored ones) -> ``(story_id, Decision)`` for every new story."""

    def __init__(
        self,
        config: MinHashConfig,
        stored: beam.PCollection | None = None,
        components_rounds: int = 2,
    ) -> None:
        super().__init__()
        self._config = config
        self._stored = stored
        self._rounds = components_rounds

    def expand(self, fingerprints: beam.PCollection) -> beam.PCollection:
        stored = self._stored
        decided: list[beam.PCollection] = []
        if stored is None:  # a run without a store: nothing to check ids against
            stored = fingerprints.pipeline | "NoStored" >> beam.Create([])
            candidates = fingerprints
        else:
            seen = {
                "new": fingerprints | "KeyNewById" >> beam.Map(lambda fp: (fp.story_id, fp)),
                "stored": stored | "KeyStoredById" >> beam.Map(lambda fp: (fp.story_id, fp)),
            } | "SeenCheck" >> beam.CoGroupByKey()
            unseen = seen | "SplitSeen" >> beam.FlatMap(_seen_split).with_outputs(
                "decided", main="unseen"
            )
            decided.append(unseen.decided)
            candidates = (unseen.unseen, stored) | "WithStoredForExact" >> beam.Flatten()
        groups = (
            candidates
            | "KeyByContent" >> beam.Map(lambda fp: (fp.content_hash, fp))
            | "ExactGroups" >> beam.GroupByKey()
            | "ExactSplit"
            >> beam.ParDo(_ExactGroupFn()).with_outputs("decided", "members", main="reps")
        )
        reps = groups.reps
        nodes = (reps, stored) | "NodesForNearDup" >> beam.Flatten()
        nodes_by_id = nodes | "KeyNodesById" >> beam.Map(lambda fp: (fp.story_id, fp))
        edges = (
            nodes
            | "BandKeys" >> beam.ParDo(BandKeysFn(self._config))
            | "BandBuckets" >> beam.GroupByKey()
            | "BucketPairs" >> beam.ParDo(BucketPairsFn(self._config.max_bucket_size))
            | "VerifyPairs" >> VerifyCandidates(self._config, nodes_by_id)
        )
        labels = edges | "Components" >> ConnectedComponents(self._rounds)
        component_decisions = (
            {"label": labels, "fp": nodes_by_id}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "LabelFingerprints" >> beam.FlatMap(_join_label)
            | "GroupComponents" >> beam.GroupByKey()
            | "ChooseCanonical" >> beam.ParDo(_ChooseCanonicalFn(self._config))
        )
        resolved = {
            "rep": reps | "KeyRepsById" >> beam.Map(lambda fp: (fp.story_id, fp)),
            "decision": component_decisions,
            "members": groups.members,
        } | "ResolveGroups" >> beam.CoGroupByKey()
        group_decisions = resolved | "ResolveGroupDecisions" >> beam.ParDo(_ResolveGroupFn())
        return (*decided, groups.decided, group_decisions) | "AllDecisions" >> beam.Flatten()


# ---------------------------------------------------------------------------------------------
# Stories in, stories out


def _fingerprint_dead(element: tuple[Story, tuple]) -> DeadLetter:
    story, (exc_type, exc, _trace) = element
    error = f"{getattr(exc_type, '__name__', exc_type)}: {exc}"
    return DeadLetter.of_story(story, "dedup", "dedup_error", error)


class _ApplyDecisionFn(beam.DoFn):
    """Joins each story with its decision; also emits the fingerprint the store must append."""

    def process(self, element: tuple[str, dict[str, list]]) -> Iterator:
        story_id, grouped = element
        stories = sorted(grouped["story"], key=lambda s: (story_key(s), s.text))
        for extra in stories[1:]:
            # Story ids are unique per run (one fetch per canonical URL); a second story with
            # the same id is a bug upstream, not a duplicate: surface it, never drop it.
            _counter("duplicate_story_id").inc()
            yield beam.pvalue.TaggedOutput(
                "dead",
                DeadLetter.of_story(
                    extra,
                    "dedup",
                    "dedup_error",
                    f"story id {story_id} appears more than once in this run",
                ),
            )
        for story in stories[:1]:
            if not grouped["decision"]:
                _counter("undecided").inc()
                yield beam.pvalue.TaggedOutput(
                    "dead",
                    DeadLetter.of_story(
                        story, "dedup", "dedup_error", f"no dedup decision for story {story_id}"
                    ),
                )
                continue
            decision: Decision = grouped["decision"][0]
            if decision.kind == ALREADY_STORED:
                yield beam.pvalue.TaggedOutput("seen", decision.apply(story))
                continue
            for fp in sorted(grouped["fp"], key=Fingerprint.canonical_key)[:1]:
                yield beam.pvalue.TaggedOutput(
                    "fingerprints", dataclasses.replace(fp, cluster_id=decision.cluster_id)
                )
            tag = "ok" if decision.kind == CANONICAL else "duplicates"
            yield beam.pvalue.TaggedOutput(tag, decision.apply(story))


class DedupStories(beam.PTransform):
    """Stories -> {"ok", "duplicates", "seen", "fingerprints", "dead"} (batch, one run).

    ``seen`` holds stories an earlier run already wrote (same story id in the store); they are
    counted (``dedup_already_stored``) and not written again. ``fingerprints`` is what the
    store must append once the run's outputs are safely written.
    """

    def __init__(
        self,
        config: MinHashConfig,
        store: StoreConfig | None = None,
        components_rounds: int = 2,
    ) -> None:
        super().__init__()
        self._config = config
        self._store = store
        self._rounds = components_rounds

    def expand(self, stories: beam.PCollection) -> dict[str, beam.PCollection]:
        fingerprinted, failed = stories | "Fingerprint" >> beam.ParDo(
            FingerprintFn(self._config)
        ).with_exception_handling(use_subprocess=False)
        stored = (
            fingerprinted
            | "ReadFingerprintStore" >> ReadFingerprintStore(self._store, self._config)
            if self._store
            else None
        )
        decisions = fingerprinted | "Cluster" >> ClusterFingerprints(
            self._config, stored, self._rounds
        )
        joined = (
            {
                "story": stories | "KeyStoriesById" >> beam.Map(lambda s: (s.story_id, s)),
                "decision": decisions,
                "fp": fingerprinted | "KeyFingerprintsById" >> beam.Map(lambda f: (f.story_id, f)),
            }
            | "JoinDecisions" >> beam.CoGroupByKey()
            | "ApplyDecisions"
            >> beam.ParDo(_ApplyDecisionFn()).with_outputs(
                "ok", "duplicates", "seen", "fingerprints", "dead"
            )
        )
        dead = (
            failed | "FingerprintDead" >> beam.Map(_fingerprint_dead),
            joined.dead,
        ) | "AllDead" >> beam.Flatten()
        return {
            "ok": joined.ok,
            "duplicates": joined.duplicates,
            "seen": joined.seen,
            "fingerprints": joined.fingerprints,
            "dead": dead,
        }
