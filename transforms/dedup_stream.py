"""Streaming near-duplicate decisions with keyed state per bucket and a TTL enforced by timers.

In streaming there is no "whole run" to cluster, so the decision is first-seen-wins:

1. Each story's bucket keys (the same LSH band keys and sample keys as batch, plus its exact
   content hash, so same-text copies always meet) key a stateful DoFn in the global window.
2. Per bucket, a ``BagState`` holds the members seen within the horizon (story id, event time,
   signature, bottom-k sample, shingle count, content hash, cluster id), with an explicit
   ``TupleCoder``. A new story is verified against them (``minhash.verify``, the same test as
   batch) and the earliest-seen verified member's cluster is its vote from that bucket; then it
   joins the bucket. A bucket already holding ``max_bucket_size`` members is compared against
   its earliest members only and not grown (``dedup_stream_bucket_full``).
3. An event-time timer at (earliest member + horizon) drops expired members and re-arms itself
   for the next one, so state per bucket never outlives the horizon: memory is bounded by the
   stories of one horizon, not by the stream's history. An empty bucket has no state at all.
4. The votes of all buckets of a story and the story itself meet in a short fixed window keyed
   by story id: the earliest-seen cluster wins; no vote means a new canonical.

A member carries the cluster it joined as decided *in that bucket*; a copy that only meets an
earlier copy (never the canonical itself) therefore points at the cluster that copy joined there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.coders import BytesCoder, StrUtf8Coder, TupleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.window import FixedWindows, GlobalWindows
from apache_beam.utils.timestamp import Duration, Timestamp

from transforms.minhash import Fingerprint, MinHashConfig, MinHasher, verify
from transforms.neardup import (
    ALREADY_STORED,
    CANONICAL,
    DUPLICATE,
    NEAR_DUPLICATE,
    SAME_TEXT,
    Decision,
    FingerprintFn,
)

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"
EXACT_KEY_TAG = b"\xfe"
BUCKET_ANCHORS = 2

# (story_id, event time micros, signature, sample, shingle_count, content_hash, cluster_id)
Member = tuple[str, int, bytes, bytes, int, str, str]
MEMBER_CODER = TupleCoder(
    [
        StrUtf8Coder(),
        VarIntCoder(),
        BytesCoder(),
        BytesCoder(),
        VarIntCoder(),
        StrUtf8Coder(),
        StrUtf8Coder(),
    ]
)


def _as_fingerprint(member: Member) -> Fingerprint:
    story_id, _, signature, sample, shingles, content_hash, _ = member
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
    """Fingerprint -> (bucket key, member) for every band, sample value and the exact text."""

    def __init__(self, config: MinHashConfig) -> None:
        self._config = config

    def setup(self) -> None:
        self._hasher = MinHasher(self._config)

    def process(
        self, fp: Fingerprint, timestamp: Any = beam.DoFn.TimestampParam
    ) -> Iterator[tuple[bytes, Member]]:
        if fp.empty:
            return
        member: Member = (
            fp.story_id,
            int(Timestamp.of(timestamp).micros),
            fp.signature,
            fp.sample,
            fp.shingle_count,
            fp.content_hash,
            fp.story_id,
        )
        yield EXACT_KEY_TAG + fp.content_hash.encode("utf-8"), member
        for key in self._hasher.bucket_keys(fp):
            yield key, member


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
        self._full = Metrics.counter(NAMESPACE, "dedup_stream_bucket_full")
        self._stale = Metrics.counter(NAMESPACE, "dedup_stream_stale_members")

    def process(
        self,
        element: tuple[bytes, Member],
        members: Any = MEMBERS_PARAM,
        expiry: Any = EXPIRY_PARAM,
    ) -> Iterator[tuple[str, tuple]]:
        _, member = element
        story_id, at = member[0], member[1]
        held = list(members.read())
        live = sorted(
            (m for m in held if m[1] + self._horizon_micros > at), key=lambda m: (m[1], m[0])
        )
        # Members past the horizon that a timer has not dropped yet (late watermark).
        self._stale.inc(len(held) - len(live))
        if self._observe:
            yield beam.pvalue.TaggedOutput("held", (story_id, len(held)))
        if any(m[0] == story_id for m in live):
            yield story_id, ("seen",)
            return
        candidates = live if len(live) < self._config.max_bucket_size else live[:BUCKET_ANCHORS]
        mine = _as_fingerprint(member)
        vote: tuple | None = None
        for other in candidates:  # earliest first: the first verified member wins
            verdict = verify(mine, _as_fingerprint(other), self._config)
            if verdict.duplicate:
                same = other[5] == member[5]
                vote = ("match", other[6], other[1], verdict.similarity, same)
                break
        yield story_id, vote or ("none",)
        if len(live) >= self._config.max_bucket_size:
            self._full.inc()
            return
        joined = (*member[:6], vote[1] if vote else story_id)
        members.add(joined)
        self._added.inc()
        earliest = min([m[1] for m in live] + [at])
        expiry.set(Timestamp(micros=earliest + self._horizon_micros))

    @userstate.on_timer(EXPIRY)
    def expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        members: Any = MEMBERS_PARAM,
        expiry: Any = EXPIRY_PARAM,
    ) -> None:
        now = int(Timestamp.of(fired).micros)
        current = list(members.read())
        keep = [m for m in current if m[1] + self._horizon_micros > now]
        self._expired.inc(len(current) - len(keep))
        members.clear()
        for m in keep:
            members.add(m)
        if keep:
            expiry.set(Timestamp(micros=min(m[1] for m in keep) + self._horizon_micros))


def _decide(element: tuple[str, dict[str, list]]) -> Iterator:
    story_id, grouped = element
    for story in grouped["story"][:1]:
        votes = grouped["votes"]
        if any(v[0] == "seen" for v in votes):
            Metrics.counter(NAMESPACE, "dedup_already_stored").inc()
            yield beam.pvalue.TaggedOutput(
                "seen", Decision(story_id, ALREADY_STORED, story_id).apply(story)
            )
            continue
        matches = sorted((v for v in votes if v[0] == "match"), key=lambda v: (v[2], v[1]))
        if not matches:
            Metrics.counter(NAMESPACE, "dedup_canonical").inc()
            yield Decision(story_id, CANONICAL, story_id).apply(story)
            continue
        _, cluster, _, similarity, same = matches[0]
        reason = SAME_TEXT if same else NEAR_DUPLICATE
        Metrics.counter(NAMESPACE, f"dedup_{reason}").inc()
        decision = Decision(story_id, DUPLICATE, cluster, 2, cluster, reason, similarity)
        yield beam.pvalue.TaggedOutput("duplicates", decision.apply(story))


class StreamingDedup(beam.PTransform):
    """Timestamped Stories (unbounded) -> {"ok", "duplicates", "seen", "held"}; first seen wins.

    ``held`` (only with ``observe_state``) is an observation per (story, bucket): how many
    members the bucket's state held when the story arrived, expired or not. It is how a test
    (or a monitoring job) can see that the state stays bounded by the horizon.
    """

    def __init__(
        self,
        config: MinHashConfig,
        horizon_seconds: int,
        decision_window_seconds: int = 60,
        observe_state: bool = False,
    ) -> None:
        super().__init__()
        self._config = config
        self._observe = observe_state
        self._horizon = horizon_seconds
        self._window = decision_window_seconds

    def expand(self, stories: beam.PCollection) -> dict[str, beam.PCollection]:
        votes = (
            stories
            | "StreamFingerprint" >> beam.ParDo(FingerprintFn(self._config))
            | "StreamGlobalWindow" >> beam.WindowInto(GlobalWindows())
            | "StreamBucketKeys"
            >> beam.ParDo(_StreamKeysFn(self._config)).with_output_types(tuple[bytes, Member])
            | "BucketState"
            >> beam.ParDo(BucketStateFn(self._config, self._horizon, self._observe))
            .with_input_types(tuple[bytes, Member])
            .with_outputs("held", main="votes")
        )
        held = votes.held
        votes = votes.votes | "VotesWindow" >> beam.WindowInto(
            FixedWindows(Duration(seconds=self._window))
        )
        keyed = (
            stories
            | "StoriesWindow" >> beam.WindowInto(FixedWindows(Duration(seconds=self._window)))
            | "KeyStreamStories" >> beam.Map(lambda s: (s.story_id, s))
        )
        decided = (
            {"story": keyed, "votes": votes}
            | "JoinVotes" >> beam.CoGroupByKey()
            | "DecideFirstSeen"
            >> beam.FlatMap(_decide).with_outputs("duplicates", "seen", main="ok")
        )
        return {
            "ok": decided.ok,
            "duplicates": decided.duplicates,
            "seen": decided.seen,
            "held": held,
        }
