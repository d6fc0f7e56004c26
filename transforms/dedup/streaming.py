"""Streaming near-duplicate decisions: fingerprints stored once, buckets of compact references.

In streaming there is no "whole run" to cluster, so the decision is first-seen-wins, made from
keyed state that holds one ``--stream_horizon_hours`` of stories:

1. ``StreamBucketKeys`` fingerprints each story (``minhash.MinHasher``, as batch) and sends its
   fingerprint to ``StoreFingerprints`` (keyed by story id), a reference to each of its buckets
   (LSH bands, bottom-k sample keys and the exact content hash), and the story itself to
   ``DecideFirstSeen`` (keyed by arrival). A story whose fingerprint cannot be made is a dead
   letter, not a stopped job.
2. ``GroupBuckets`` groups a bucket's arrivals per window and pane in the job's own windows and
   allowed lateness, so a late story is grouped in its window's late pane, never dropped; every
   bucket takes a pane's arrivals in one order (event time, then the canonical order).
3. ``BucketRefs`` (keyed by bucket) keeps ``(story id, event time)`` per member, 29 bytes with a
   20-character id instead of the ~1,170-byte member of the first streaming form. Each arrival is
   told the live members (a full bucket: its ``BUCKET_ANCHORS`` earliest members, and it is not
   grown), then joins the bucket. An event-time timer drops members past the horizon.
4. ``GatherCandidates`` (keyed by arrival, held only until the story's buckets have answered)
   merges the candidates of all its buckets: a near-copy shares dozens of buckets with its
   original and is checked against it once, with the number of buckets it was met in. A count
   cell says when the last bucket has answered, so the bag is read once.
5. ``StoreFingerprints`` (keyed by story id) holds each story's fingerprint once and verifies
   every candidate against it with ``minhash.verify``, the batch verification, on the exact batch
   fingerprints (no compaction, so the decisions are batch's decisions on the same pair). A
   candidate that arrives before the member's own fingerprint waits for it; a second arrival of
   the same story id is answered ``seen``.
6. ``DecideFirstSeen`` (keyed by arrival) holds the story until every message it expects is in,
   counted, not timed: the same article seen before -> ``same_url``; else the earliest verified
   member it may join -> ``same_text`` / ``near_duplicate``; else a new canonical. A member later
   in the canonical order (event time, then canonical key) may be joined only if it was there
   first in *every* bucket the two share: the deterministic tie-break that keeps a late story and
   its near-copy, met in opposite orders in different buckets, from each becoming the other's
   duplicate (the later one joins the earlier one, which is the canonical). A canonical leaves
   here; every decided story's parent record (the member it joined) and every duplicate go on.
7. ``ResolveCluster1..3`` (keyed by story id) name each duplicate's cluster after its canonical,
   as batch does: a copy that verified only against another copy (a chain of edits) follows
   the parent records up the chain (``transforms/dedup/stream_clusters.py``).

Steps 4 and 5 live in ``transforms/dedup/stream_verify.py``. State per story: one fingerprint
record (~1.15 KB), one reference per bucket (51 x 29 bytes) and one parent record per resolve
step (~10 bytes for a canonical, ~37 for a copy), ~2.7 KB; every add and expiry moves the
counter ``dedup_stream_state_bytes`` by the encoded size.
State ids and coders are the job's ``--update`` contract
(``tests/pipeline/test_streaming_update.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder, TupleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.window import GlobalWindows, TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.core.records import DeadLetter, Story
from transforms.core.windowing import StreamConfig, premature_expiry, windowing
from transforms.dedup.canonical import BUCKET_ANCHORS
from transforms.dedup.decisions import (
    CANONICAL,
    DUPLICATE,
    NEAR_DUPLICATE,
    SAME_TEXT,
    SAME_URL,
    Decision,
)
from transforms.dedup.minhash import MinHashConfig, MinHasher
from transforms.dedup.stream_clusters import (
    FORWARD,
    RESOLVE_STAGES,
    ResolveClusterFn,
    ask,
    parent_record,
)
from transforms.dedup.stream_verify import (
    ARRIVALS,
    READS,
    STATE,
    GatherCandidatesFn,
    Stored,
    StoreFingerprintsFn,
    _arrival_hash,
    _bucket_keys,
)

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"
DUPLICATES = "duplicates"
ASKS = "asks"
PARENTS = "parents"
GATHER = "gather"
PRINTS = "prints"
HELD = "held"
DEAD = "dead"

# Bucket reference: (story id, event time micros).
REF_CODER = TupleCoder([StrUtf8Coder(), VarIntCoder()])


def _counter(name: str) -> Metrics.DelegatingCounter:
    return Metrics.counter(NAMESPACE, f"dedup_stream_{name}")


def arrival_key(story: Story, at_micros: int) -> str:
    """One arrival of a story: the same article from two feed entries, or from one entry at two
    event times, is two arrivals; only a redelivered entry fetched at the same moment is one."""
    return "\x1f".join((story.story_id, story.entry_id, story.fetched_at, str(at_micros)))


class _StreamKeysFn(beam.DoFn):
    """Story -> references to its buckets, its fingerprint to the store, itself to the decision."""

    def __init__(self, config: MinHashConfig) -> None:
        self._config = config
        self._empty = Metrics.counter(NAMESPACE, "dedup_empty_text")

    def setup(self) -> None:
        self._hasher = MinHasher(self._config)

    def process(self, story: Story, timestamp: Any = beam.DoFn.TimestampParam) -> Iterator:
        try:
            fp = self._hasher.fingerprint(story)
        except Exception as exc:  # one bad story is a dead letter, never a stopped job
            error = f"{type(exc).__name__}: {exc}"
            yield beam.pvalue.TaggedOutput(
                DEAD, DeadLetter.of_story(story, "dedup", "dedup_error", error)
            )
            return
        at = int(Timestamp.of(timestamp).micros)
        arrival = arrival_key(story, at)
        if fp.empty:
            self._empty.inc()
        # A story can fall twice into one sample bucket; it must meet itself there never.
        keys = sorted(_bucket_keys(self._hasher, fp))
        stored: Stored = (
            _arrival_hash(arrival),
            at,
            fp.canonical_key(),
            fp.signature,
            fp.sample,
            fp.shingle_count,
            fp.content_hash,
        )
        for key in keys:
            yield key, (fp.canonical_key(), arrival, fp.story_id, stored)
        yield beam.pvalue.TaggedOutput(PRINTS, (fp.story_id, ("store", arrival, stored)))
        yield beam.pvalue.TaggedOutput(GATHER, (arrival, ("print", fp.story_id, stored, len(keys))))
        yield beam.pvalue.TaggedOutput(ARRIVALS, (arrival, ("story", story, at)))


REFS = userstate.BagStateSpec("refs", REF_CODER)
REF_EXPIRY = userstate.TimerSpec("ref_expiry", TimeDomain.WATERMARK)
REFS_PARAM = beam.DoFn.StateParam(REFS)
REF_EXPIRY_PARAM = beam.DoFn.TimerParam(REF_EXPIRY)


class BucketRefsFn(beam.DoFn):
    """Per bucket: propose each arrival with the live members, remember it, expire at horizon."""

    def __init__(self, config: MinHashConfig, horizon_seconds: int, observe: bool = False) -> None:
        self._config = config
        self._observe = observe
        self._horizon = int(horizon_seconds) * 1_000_000
        self._bytes = _counter("state_bytes")
        self._added = _counter("members_added")
        self._expired = _counter("members_expired")
        self._deferred = _counter("expiry_deferred")
        self._full = _counter("bucket_full")
        self._proposed = _counter("candidate_pairs")

    def process(
        self,
        element: tuple[bytes, Iterable[tuple]],
        refs: Any = REFS_PARAM,
        expiry: Any = REF_EXPIRY_PARAM,
    ) -> Iterator:
        _, arrivals = element
        held = list(refs.read())
        read_bytes = sum(len(REF_CODER.encode(ref)) for ref in held)
        added: list[tuple[str, int]] = []
        # Event time, then the canonical order: every bucket of a pane agrees on who came first.
        for _, arrival, story_id, stored in sorted(arrivals, key=lambda a: (a[3][1], a[0], a[1])):
            at = stored[1]
            known = held + added
            live = sorted(
                (r for r in known if r[1] + self._horizon > at), key=lambda r: (r[1], r[0])
            )
            if self._observe:
                yield beam.pvalue.TaggedOutput(HELD, (story_id, len(known)))
                yield beam.pvalue.TaggedOutput(READS, (story_id, read_bytes))
            others = [r for r in live if r[0] != story_id]
            full = len(live) >= self._config.max_bucket_size
            candidates = others[:BUCKET_ANCHORS] if full else others
            self._proposed.inc(len(candidates))
            yield arrival, ("cands", story_id, [list(member) for member in candidates])
            if full:
                self._full.inc()
            elif not any(r[0] == story_id for r in live):
                added.append((story_id, at))
        if not added:
            return
        size = 0
        for ref in added:
            refs.add(ref)
            size += len(REF_CODER.encode(ref))
        self._bytes.inc(size)
        self._added.inc(len(added))
        if self._observe:
            yield beam.pvalue.TaggedOutput(STATE, ("refs", size, max(r[1] for r in added)))
        expiry.set(Timestamp(micros=min(r[1] for r in held + added) + self._horizon))

    @userstate.on_timer(REF_EXPIRY)
    def expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        refs: Any = REFS_PARAM,
        expiry: Any = REF_EXPIRY_PARAM,
    ) -> Iterator:
        if premature_expiry(float(fired)):
            # A bounded local runner fires every timer at once: keep the state (see
            # premature_expiry); the next story in this bucket re-arms the timer.
            self._deferred.inc()
            return
        now = int(Timestamp.of(fired).micros)
        current = list(refs.read())
        keep = [r for r in current if r[1] + self._horizon > now]
        gone = [r for r in current if r[1] + self._horizon <= now]
        self._expired.inc(len(gone))
        size = sum(len(REF_CODER.encode(r)) for r in gone)
        self._bytes.dec(size)
        if self._observe:
            yield beam.pvalue.TaggedOutput(STATE, ("refs", -size, now))
        refs.clear()
        for ref in keep:
            refs.add(ref)
        if keep:
            expiry.set(Timestamp(micros=min(r[1] for r in keep) + self._horizon))


STORIES = userstate.BagStateSpec("stories", StrUtf8Coder())
VOTES = userstate.BagStateSpec("votes", StrUtf8Coder())
STORIES_PARAM = beam.DoFn.StateParam(STORIES)
VOTES_PARAM = beam.DoFn.StateParam(VOTES)


class DecideFirstSeenFn(beam.DoFn):
    """Per arrival: hold the story until every message it expects is in, then decide.

    Expected: the story, one ``expect`` from ``GatherCandidates`` (how many members it is
    checked against), one ``stored`` answer from the fingerprint store, one ``verdict`` per
    member checked. Counted, not timed: nothing waits for a watermark, so a late story is decided as
    soon as its messages are in. Two identical arrivals (a redelivered entry) share a key; the
    first is decided and the others are ``same_url`` copies of it.
    """

    def process(
        self,
        element: tuple[str, tuple],
        stories: Any = STORIES_PARAM,
        votes: Any = VOTES_PARAM,
    ) -> Iterator:
        _, (kind, *payload) = element
        if kind == "story":
            story, at = payload
            record = {"story": story.to_json(), "at": at}
            stories.add(json.dumps(record, sort_keys=True))
        else:
            votes.add(json.dumps([kind, *payload]))
        held = [json.loads(s) for s in stories.read()]
        cast = [json.loads(v) for v in votes.read()]
        if not held:
            return
        expects = [v for v in cast if v[0] == "expect"]
        answers = [v for v in cast if v[0] == "stored"]
        verdicts = [v for v in cast if v[0] == "verdict"]
        if (
            len(expects) != len(held)
            or len(answers) != len(held)
            or len(verdicts) != sum(v[1] for v in expects)
        ):
            return
        stories.clear()
        votes.clear()
        yield from _decide(held, answers, verdicts)


def _decide(held: list[dict], answers: list[list], verdicts: list[list]) -> Iterator:
    ordered = sorted(held, key=lambda s: (s["at"], json.dumps(s["story"], sort_keys=True)))
    first = Story.from_json(ordered[0]["story"])
    at = ordered[0]["at"]
    seen = sorted(a for a in answers if a[1] is not None)
    # Where the story id's own parent record is (its first arrival's event time).
    own_at = seen[0][2] if seen else at
    if seen and not (first.wire_guid is not None and len(seen[0]) > 3 and seen[0][3]):
        # The same story id decided before: a copy of it, in whatever cluster that one is in.
        copy = Decision(first.story_id, DUPLICATE, first.story_id, 2, first.story_id, SAME_URL, 1.0)
        yield from _route(copy.apply(first), copy, at, own_at)
    else:
        # New, or a new version of an agency item (same id, new text): decided against the
        # others but never against its own earlier version (``_nearest`` skips its id); written
        # again under its id, readers take the highest wire_version.
        decision = _nearest(first, at, verdicts)
        member_at = _member_at(decision, verdicts, at)
        yield beam.pvalue.TaggedOutput(
            PARENTS, parent_record(first.story_id, decision.duplicate_of, member_at, at)
        )
        yield from _route(decision.apply(first), decision, at, member_at)
        own_at = at
    for extra in ordered[1:]:
        # An identical arrival (a redelivered entry): a copy of the first, in the first's cluster.
        story = Story.from_json(extra["story"])
        copy = Decision(story.story_id, DUPLICATE, first.story_id, 2, first.story_id, SAME_URL, 1.0)
        yield from _route(copy.apply(story), copy, extra["at"], own_at)


def _member_at(decision: Decision, verdicts: list[list], at: int) -> int:
    """Event time of the member a duplicate joined (its parent record's expiry)."""
    for verdict in verdicts:
        if verdict[1] == decision.duplicate_of:
            return int(verdict[2])
    return at


def _nearest(story: Story, at: int, verdicts: list[list]) -> Decision:
    """The earliest verified member this story may join, else a new canonical (see module doc)."""
    from transforms.dedup.canonical import story_key

    me = (at, story_key(story))
    found: dict[str, dict] = {}
    for _, member, member_at, order, duplicate, similarity, same, shared, met in verdicts:
        if duplicate and member != story.story_id:
            found[member] = {
                "rank": (member_at, order),
                "met": met,
                "shared": shared,
                "sim": similarity,
                "same": same,
            }
    eligible = sorted(
        (entry["rank"], member, entry)
        for member, entry in found.items()
        if tuple(entry["rank"]) < me or entry["met"] >= entry["shared"]
    )
    if not eligible:
        return Decision(story.story_id, CANONICAL, story.story_id)
    _, member, entry = eligible[0]
    reason = SAME_TEXT if entry["same"] else NEAR_DUPLICATE
    return Decision(story.story_id, DUPLICATE, member, 2, member, reason, entry["sim"])


def _route(story: Story, decision: Decision, at: int, member_at: int) -> Iterator:
    """A canonical leaves at its own event time (the graph puts it back into its window); a
    duplicate goes to the member it joined, which names its cluster (``stream_clusters``)."""
    Metrics.counter(NAMESPACE, f"dedup_{decision.reason or decision.kind}").inc()
    if decision.kind == CANONICAL:
        yield TimestampedValue(story, Timestamp(micros=at))
    else:
        yield beam.pvalue.TaggedOutput(
            ASKS,
            TimestampedValue(ask(decision.cluster_id, story, at, member_at), Timestamp(micros=at)),
        )


class StreamingDedup(beam.PTransform):
    """Timestamped Stories (unbounded) -> {"ok", "duplicates", "dead"[, "held", "reads"]}.

    ``stream`` gives the windows and allowed lateness the buckets are grouped in (the job's
    own, so a story the rest of the graph accepts is never dropped here). With
    ``observe_state``: ``held`` is (story id, members its bucket held when it arrived) per
    bucket, ``reads`` (story id, bytes of state read for it) per read, ``state`` (cell kind,
    encoded bytes added or, negative, expired, event time micros): the increments of the
    ``dedup_stream_state_bytes`` counter, for runners that lose user counters (the
    BundleBasedDirectRunner).
    """

    def __init__(
        self,
        config: MinHashConfig,
        horizon_seconds: int,
        stream: StreamConfig | None = None,
        observe_state: bool = False,
    ) -> None:
        super().__init__()
        self._config = config
        self._observe = observe_state
        self._horizon = horizon_seconds
        self._stream = stream or StreamConfig()

    def expand(self, stories: beam.PCollection) -> dict[str, beam.PCollection]:
        # Keys typed as bytes and str: deterministic key coders for the groupings and state.
        by_bucket = beam.typehints.Tuple[bytes, beam.typehints.Any]
        grouped = beam.typehints.Tuple[bytes, beam.typehints.Iterable[beam.typehints.Any]]
        by_str = beam.typehints.Tuple[str, beam.typehints.Any]
        keyed = stories | "StreamBucketKeys" >> beam.ParDo(
            _StreamKeysFn(self._config)
        ).with_outputs(ARRIVALS, PRINTS, GATHER, DEAD, main="members")
        buckets = (
            keyed.members
            | "TypeBucketKeys" >> beam.Map(lambda kv: kv).with_output_types(by_bucket)
            | "BucketWindows" >> windowing(self._stream)
            | "GroupBuckets" >> beam.GroupByKey()
            | "BucketsGlobalWindow" >> beam.WindowInto(GlobalWindows()).with_output_types(grouped)
            | "BucketRefs"
            >> beam.ParDo(BucketRefsFn(self._config, self._horizon, self._observe))
            .with_input_types(grouped)
            .with_outputs(HELD, READS, STATE, main="candidates")
        )
        gathered = (
            (
                keyed[GATHER] | "GatherGlobalWindow" >> beam.WindowInto(GlobalWindows()),
                buckets.candidates,
            )
            | "FlattenPrintsAndCandidates" >> beam.Flatten().with_output_types(by_str)
            | "GatherCandidates"
            >> beam.ParDo(GatherCandidatesFn())
            .with_input_types(by_str)
            .with_outputs(ARRIVALS, main="checks")
        )
        prints = (
            (
                keyed[PRINTS] | "PrintsGlobalWindow" >> beam.WindowInto(GlobalWindows()),
                gathered.checks,
            )
            | "FlattenPrintsAndChecks" >> beam.Flatten().with_output_types(by_str)
            | "StoreFingerprints"
            >> beam.ParDo(StoreFingerprintsFn(self._config, self._horizon, self._observe))
            .with_input_types(by_str)
            .with_outputs(READS, STATE, main="answers")
        )
        arrivals = keyed[ARRIVALS] | "ArrivalsGlobalWindow" >> beam.WindowInto(GlobalWindows())
        decided = (
            (arrivals, gathered[ARRIVALS], prints.answers)
            | "FlattenArrivalsAndVotes" >> beam.Flatten().with_output_types(by_str)
            | "DecideFirstSeen"
            >> beam.ParDo(DecideFirstSeenFn())
            .with_input_types(by_str)
            .with_outputs(ASKS, PARENTS, main="ok")
        )
        named, reads, state = [], [buckets[READS], prints[READS]], [buckets[STATE], prints[STATE]]
        asks = decided[ASKS]
        for n in range(1, RESOLVE_STAGES + 1):
            resolved = (
                (decided[PARENTS], asks)
                | f"FlattenParentsAndAsks{n}" >> beam.Flatten().with_output_types(by_str)
                | f"ResolveCluster{n}"
                >> beam.ParDo(ResolveClusterFn(self._horizon, n == RESOLVE_STAGES, self._observe))
                .with_input_types(by_str)
                .with_outputs(FORWARD, READS, STATE, main="named")
            )
            named.append(resolved.named)
            reads.append(resolved[READS])
            state.append(resolved[STATE])
            asks = resolved[FORWARD]
        outputs = {
            "ok": decided.ok,
            "duplicates": named | "AllDuplicates" >> beam.Flatten(),
            "dead": keyed[DEAD],
        }
        if self._observe:
            outputs["held"] = buckets[HELD]
            outputs["reads"] = reads | "AllReads" >> beam.Flatten()
            outputs["state"] = state | "AllState" >> beam.Flatten()
        return outputs
