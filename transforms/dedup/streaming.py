"""Streaming near-duplicate decisions with keyed state per bucket and a TTL enforced by timers.

In streaming there is no "whole run" to cluster, so the decision is first-seen-wins:

1. ``StreamBucketKeys`` fingerprints each story and keys it by every bucket it belongs to (the
   same LSH band keys and sample keys as batch, plus its exact content hash, so same-text copies
   always meet). The story itself goes on to the decision step, with the number of votes it
   will get.
2. ``GroupBuckets`` groups the members of one bucket per window and pane, in the job's own
   windows and allowed lateness (``transforms/streaming.windowing``): an on-time pane hands a
   bucket all of its window's stories at once, and every bucket processes them in the same
   order (event time, then the batch canonical order), so two copies that arrive together get
   the same answer in every bucket they share. A late pane is a group like any other: late
   stories are decided like on-time ones, never dropped.
3. ``BucketState`` (global window, keyed by bucket) keeps the members seen within the horizon in
   a ``BagState`` with an explicit ``TupleCoder``. Each new story is verified against them
   (``minhash.verify``, the same test as batch): the earliest verified member's cluster is its
   vote from that bucket; a member with the same story id (the same article again) is a
   ``seen`` vote. Then the story joins the bucket. A bucket already holding
   ``max_bucket_size`` members is compared against its earliest members only and not grown
   (``dedup_stream_bucket_full``). An event-time timer at (earliest member + horizon) drops
   expired members, so state never outlives the horizon; an empty bucket has no state at all.
4. ``DecideFirstSeen`` (global window, keyed by arrival) holds the story until all its votes
   are in and decides: the same article seen before -> ``same_url`` duplicate; a verified
   member -> ``same_text`` / ``near_duplicate`` duplicate of that member's cluster; else a new
   canonical. It needs no window and no timer, so nothing waits for a watermark and nothing can
   be late there: the story leaves with its own timestamp, and the graph puts it back into its
   window (a late story into its window's late pane, within the allowed lateness).

A member carries the cluster it joined as decided *in that bucket*; a copy that only meets an
earlier copy (never the canonical itself) therefore points at the cluster that copy joined there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.coders import BytesCoder, StrUtf8Coder, TupleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.window import GlobalWindows, TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.core.records import Story
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
from transforms.dedup.minhash import Fingerprint, MinHashConfig, MinHasher, verify

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"
EXACT_KEY_TAG = b"\xfe"
DUPLICATES = "duplicates"
ARRIVALS = "arrivals"
HELD = "held"

# (story_id, event time micros, signature, sample, shingle_count, content_hash, cluster_id,
#  arrival). State ids and this coder are part of the job's --update contract.
Member = tuple[str, int, bytes, bytes, int, str, str, str]
MEMBER_CODER = TupleCoder(
    [
        StrUtf8Coder(),
        VarIntCoder(),
        BytesCoder(),
        BytesCoder(),
        VarIntCoder(),
        StrUtf8Coder(),
        StrUtf8Coder(),
        StrUtf8Coder(),
    ]
)
# A bucket's view of one arriving story: (order within its pane, arrival key, member).
Arrival = tuple[str, str, Member]


def arrival_key(story: Story, at_micros: int) -> str:
    """One arrival of a story: the same article from two feed entries, or from one entry at two
    event times, is two arrivals; only a redelivered entry fetched at the same moment is one."""
    return "\x1f".join((story.story_id, story.entry_id, story.fetched_at, str(at_micros)))


def story_from_json(record: dict[str, Any]) -> Story:
    """Inverse of ``Story.to_json``: a story held in state comes back field for field."""
    values = dict(record)
    for key in ("authors", "tags", "places", "cities", "topics"):
        values[key] = tuple(values[key])
    values["place_mentions"] = tuple((m["code"], m["count"]) for m in values["place_mentions"])
    values["cleaning_hits"] = tuple((h["rule"], h["count"]) for h in values["cleaning_hits"])
    return Story(**values)


def _as_fingerprint(member: Member) -> Fingerprint:
    story_id, _, signature, sample, shingles, content_hash, _, _ = member
    return Fingerprint(
        story_id=story_id,
        content_hash=content_hash,
        published="",
        cleaning_hits=0,
        text_length=0,
        shingle_count=shingles,
        signature=signature,
        sample=sample,
    )


class _StreamKeysFn(beam.DoFn):
    """Story -> (bucket key, arrival) per bucket, and the story with its vote count."""

    def __init__(self, config: MinHashConfig) -> None:
        self._config = config
        self._empty = Metrics.counter(NAMESPACE, "dedup_empty_text")

    def setup(self) -> None:
        self._hasher = MinHasher(self._config)

    def process(
        self,
        story: Story,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator:
        fp = self._hasher.fingerprint(story)
        at = int(Timestamp.of(timestamp).micros)
        arrival = arrival_key(story, at)
        keys: list[bytes] = []
        if fp.empty:
            self._empty.inc()
        else:
            # A story can fall twice into one sample bucket; it must meet itself there never.
            keys = sorted(
                {EXACT_KEY_TAG + fp.content_hash.encode("utf-8"), *self._hasher.bucket_keys(fp)}
            )
        member: Member = (
            fp.story_id,
            at,
            fp.signature,
            fp.sample,
            fp.shingle_count,
            fp.content_hash,
            fp.story_id,
            arrival,
        )
        order = fp.canonical_key()
        for key in keys:
            yield key, (order, arrival, member)
        yield beam.pvalue.TaggedOutput(ARRIVALS, (arrival, ("story", story, len(keys), at)))


MEMBERS = userstate.BagStateSpec("members", MEMBER_CODER)
EXPIRY = userstate.TimerSpec("expiry", TimeDomain.WATERMARK)
MEMBERS_PARAM = beam.DoFn.StateParam(MEMBERS)
EXPIRY_PARAM = beam.DoFn.TimerParam(EXPIRY)


class BucketStateFn(beam.DoFn):
    """Per bucket key: verify against live members, vote, remember, expire after the horizon."""

    def __init__(self, config: MinHashConfig, horizon_seconds: int, observe: bool = False) -> None:
        self._config = config
        self._observe = observe
        self._horizon_micros = int(horizon_seconds) * 1_000_000
        self._added = Metrics.counter(NAMESPACE, "dedup_stream_members_added")
        self._expired = Metrics.counter(NAMESPACE, "dedup_stream_members_expired")
        self._deferred = Metrics.counter(NAMESPACE, "dedup_stream_expiry_deferred")
        self._full = Metrics.counter(NAMESPACE, "dedup_stream_bucket_full")
        self._stale = Metrics.counter(NAMESPACE, "dedup_stream_stale_members")

    def process(
        self,
        element: tuple[bytes, Iterable[Arrival]],
        members: Any = MEMBERS_PARAM,
        expiry: Any = EXPIRY_PARAM,
    ) -> Iterator:
        _, arrivals = element
        held = list(members.read())
        added: list[Member] = []
        # Event time, then the canonical order: every bucket of a pane agrees on who came first.
        for _, arrival, member in sorted(arrivals, key=lambda a: (a[2][1], a[0], a[1])):
            story_id, at = member[0], member[1]
            known = held + added
            live = sorted(
                (m for m in known if m[1] + self._horizon_micros > at), key=lambda m: (m[1], m[0])
            )
            # Members past the horizon that a timer has not dropped yet (late watermark).
            self._stale.inc(len(known) - len(live))
            if self._observe:
                yield beam.pvalue.TaggedOutput(HELD, (story_id, len(known)))
            same = [m for m in live if m[0] == story_id]
            if same:
                first = same[0]
                yield arrival, ("vote", ["seen", first[6], first[1], first[7]])
                continue
            vote = self._vote(member, live)
            yield arrival, ("vote", vote)
            if len(live) >= self._config.max_bucket_size:
                self._full.inc()
                continue
            cluster = vote[1] if vote[0] == "match" else story_id
            added.append((*member[:6], cluster, member[7]))
        if not added:
            return
        for member in added:
            members.add(member)
        self._added.inc(len(added))
        expiry.set(Timestamp(micros=min(m[1] for m in held + added) + self._horizon_micros))

    def _vote(self, member: Member, live: list[Member]) -> list:
        """The earliest live member this story verifies against, as a vote; else ``none``."""
        candidates = live if len(live) < self._config.max_bucket_size else live[:BUCKET_ANCHORS]
        mine = _as_fingerprint(member)
        for other in candidates:  # earliest first: the first verified member wins
            verdict = verify(mine, _as_fingerprint(other), self._config)
            if verdict.duplicate:
                return ["match", other[6], other[1], verdict.similarity, other[5] == member[5]]
        return ["none"]

    @userstate.on_timer(EXPIRY)
    def expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        members: Any = MEMBERS_PARAM,
        expiry: Any = EXPIRY_PARAM,
    ) -> None:
        if premature_expiry(float(fired)):
            # A bounded local runner fires every timer at once: keep the state (see
            # premature_expiry); the next story in this bucket re-arms the timer.
            self._deferred.inc()
            return
        now = int(Timestamp.of(fired).micros)
        current = list(members.read())
        keep = [m for m in current if m[1] + self._horizon_micros > now]
        self._expired.inc(len(current) - len(keep))
        members.clear()
        for m in keep:
            members.add(m)
        if keep:
            expiry.set(Timestamp(micros=min(m[1] for m in keep) + self._horizon_micros))


# State ids of the decision step: part of the job's --update contract.
STORIES = userstate.BagStateSpec("stories", StrUtf8Coder())
VOTES = userstate.BagStateSpec("votes", StrUtf8Coder())
STORIES_PARAM = beam.DoFn.StateParam(STORIES)
VOTES_PARAM = beam.DoFn.StateParam(VOTES)


class DecideFirstSeenFn(beam.DoFn):
    """Per arrival: hold the story until every bucket has voted, then decide and let it go.

    Votes are counted, not timed: the story knows how many buckets it was sent to, so the
    decision never waits for a watermark and a late story is decided as soon as its votes are
    in. Two identical arrivals (same story, entry, fetch time and event time: a redelivered
    entry) share a key; the first is decided from the votes and the others are ``same_url``
    copies of it.
    """

    def process(
        self,
        element: tuple[str, tuple],
        stories: Any = STORIES_PARAM,
        votes: Any = VOTES_PARAM,
    ) -> Iterator:
        arrival, (kind, *payload) = element
        if kind == "story":
            story, needed, at = payload
            record = {"story": story.to_json(), "needed": needed, "at": at}
            stories.add(json.dumps(record, sort_keys=True))
        else:
            votes.add(json.dumps(payload[0]))
        held = [json.loads(s) for s in stories.read()]
        cast = [json.loads(v) for v in votes.read()]
        if not held or len(cast) != sum(s["needed"] for s in held):
            return
        stories.clear()
        votes.clear()
        yield from _decide(arrival, held, cast)


def _decide(arrival: str, held: list[dict], cast: list[list]) -> Iterator:
    ordered = sorted(held, key=lambda s: (s["at"], json.dumps(s["story"], sort_keys=True)))
    first = story_from_json(ordered[0]["story"])
    # A member with this story id from another arrival: the same article, already decided.
    seen = sorted(
        (v for v in cast if v[0] == "seen" and v[3] != arrival), key=lambda v: (v[2], v[1])
    )
    matches = sorted((v for v in cast if v[0] == "match"), key=lambda v: (v[2], v[1]))
    if seen:
        _, cluster, _, _ = seen[0]
        decision = Decision(first.story_id, DUPLICATE, cluster, 2, cluster, SAME_URL, 1.0)
    elif matches:
        _, cluster, _, similarity, same = matches[0]
        reason = SAME_TEXT if same else NEAR_DUPLICATE
        decision = Decision(first.story_id, DUPLICATE, cluster, 2, cluster, reason, similarity)
    else:
        decision = Decision(first.story_id, CANONICAL, first.story_id)
    yield _emit(decision.apply(first), decision.kind, decision.reason, ordered[0]["at"])
    for extra in ordered[1:]:
        copy = Decision(
            extra["story"]["story_id"],
            DUPLICATE,
            decision.cluster_id,
            2,
            decision.cluster_id,
            SAME_URL,
            1.0,
        )
        yield _emit(copy.apply(story_from_json(extra["story"])), DUPLICATE, SAME_URL, extra["at"])


def _emit(story: Story, kind: str, reason: str | None, at: int) -> Any:
    """The decided story at its own event time, so the graph puts it back into its window."""
    Metrics.counter(NAMESPACE, f"dedup_{reason or kind}").inc()
    stamped = TimestampedValue(story, Timestamp(micros=at))
    if kind == CANONICAL:
        return stamped
    return beam.pvalue.TaggedOutput(DUPLICATES, stamped)


class StreamingDedup(beam.PTransform):
    """Timestamped Stories (unbounded) -> {"ok", "duplicates", "held"}; first seen wins.

    ``stream`` gives the windows and allowed lateness the buckets are grouped in (the job's
    own, so a story the rest of the graph accepts is never dropped here). ``held`` (only with
    ``observe_state``) is an observation per (story, bucket): how many members the bucket's
    state held when the story arrived, expired or not. It is how a test (or a monitoring job)
    can see that the state stays bounded by the horizon.
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
        by_arrival = beam.typehints.Tuple[str, beam.typehints.Any]
        keyed = stories | "StreamBucketKeys" >> beam.ParDo(
            _StreamKeysFn(self._config)
        ).with_output_types(by_bucket).with_outputs(ARRIVALS, main="members")
        votes = (
            keyed.members
            | "BucketWindows" >> windowing(self._stream)
            | "GroupBuckets" >> beam.GroupByKey()
            | "BucketsGlobalWindow" >> beam.WindowInto(GlobalWindows()).with_output_types(grouped)
            | "BucketState"
            >> beam.ParDo(BucketStateFn(self._config, self._horizon, self._observe))
            .with_input_types(grouped)
            .with_outputs(HELD, main="votes")
        )
        arrivals = keyed[ARRIVALS] | "ArrivalsGlobalWindow" >> beam.WindowInto(GlobalWindows())
        decided = (
            (arrivals, votes.votes)
            | "FlattenArrivalsAndVotes" >> beam.Flatten().with_output_types(by_arrival)
            | "DecideFirstSeen"
            >> beam.ParDo(DecideFirstSeenFn())
            .with_input_types(by_arrival)
            .with_outputs(DUPLICATES, main="ok")
        )
        return {"ok": decided.ok, "duplicates": decided[DUPLICATES], "held": votes[HELD]}
