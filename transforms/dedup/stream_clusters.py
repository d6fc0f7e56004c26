"""Streaming dedup, cluster side: a copy of a copy names its cluster's canonical, as in batch.

``DecideFirstSeen`` joins a story to the earliest verified member it may join. That member can
itself be a copy: C verifies against A, A joined C1 (the canonical), but C and C1 differ too much
to verify. Batch puts all three in one connected component named after its canonical; here the
decision of A is made downstream of the state C was checked against, and a Beam graph has no
cycle to carry it back. So the decision leaves as a *parent record* (the member each story
joined, ``""`` for a canonical) and the duplicate as an *ask* keyed by its member, and
``RESOLVE_STAGES`` identical keyed steps follow the chain:

* ``ResolveCluster<n>`` (keyed by story id) keeps each decided story's parent record for the
  horizon. An ask at a canonical leaves with that canonical as ``cluster_id`` and
  ``duplicate_of``; an ask at a copy goes on to that copy's parent in the next step. An ask that
  arrives before its member's record waits for it (the record always comes: every story is
  decided, and its decision never waits on its copies).
* A copy up to ``RESOLVE_STAGES`` joins from its canonical is named for certain. The last step
  names the parent it reached without knowing whether that one is a canonical: right for one
  join more, counted (``dedup_stream_cluster_depth_capped``) since a longer chain names a copy.
* A member whose record expired (past the horizon) before its copy's ask came is named as it is
  (``dedup_stream_cluster_expired``): the timer answers the ask, nothing waits forever.

Only duplicates travel (the canonical leaves the decision step at once), and only the rare copy
of a copy goes past the first step. State per story: one record per step (~10 bytes for a
canonical, ~37 for a copy), counted in ``dedup_stream_state_bytes``. The ``similarity`` of a
repointed copy stays its similarity to the story it was verified against. Cell ids and coders are
part of the job's ``--update`` contract (``tests/pipeline/test_streaming_update.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder, TupleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.core.records import Story
from transforms.core.windowing import premature_expiry

NAMESPACE = "wirestream"
RESOLVE_STAGES = 3
FORWARD = "forward"
READS = "reads"
STATE = "state"

# Parent record: (parent story id, "" for a canonical; the parent's event time micros, 0 for a
# canonical; the story's own event time micros).
PARENT_CODER = TupleCoder([StrUtf8Coder(), VarIntCoder(), VarIntCoder()])
Parent = tuple[str, int, int]


def _counter(name: str) -> Metrics.DelegatingCounter:
    return Metrics.counter(NAMESPACE, f"dedup_stream_{name}")


def parent_record(story_id: str, parent: str | None, parent_at: int, at: int) -> tuple:
    """What the decision step tells every resolve step about one decided story."""
    return story_id, ("parent", (parent or "", parent_at if parent else 0, at))


def ask(member: str, story: Story, at: int, member_at: int) -> tuple:
    """A decided duplicate, keyed by the member it joined (whose cluster it is to name)."""
    return member, ("ask", {"story": story, "at": at, "member_at": member_at})


PARENT = userstate.ReadModifyWriteStateSpec("parent", PARENT_CODER)
ASKS = userstate.BagStateSpec("asks", StrUtf8Coder())
PARENT_EXPIRY = userstate.TimerSpec("parent_expiry", TimeDomain.WATERMARK)
PARENT_PARAM = beam.DoFn.StateParam(PARENT)
ASKS_PARAM = beam.DoFn.StateParam(ASKS)
PARENT_EXPIRY_PARAM = beam.DoFn.TimerParam(PARENT_EXPIRY)


class ResolveClusterFn(beam.DoFn):
    """Per story id: its parent record; each copy that joined it is named or sent on up."""

    def __init__(self, horizon_seconds: int, last: bool, observe: bool = False) -> None:
        self._horizon = int(horizon_seconds) * 1_000_000
        self._last = last
        self._observe = observe
        self._bytes = _counter("state_bytes")
        self._repointed = _counter("cluster_repointed")
        self._capped = _counter("cluster_depth_capped")
        self._expired = _counter("cluster_expired")
        self._deferred = _counter("expiry_deferred")

    def process(
        self,
        element: tuple[str, tuple],
        parent: Any = PARENT_PARAM,
        asks: Any = ASKS_PARAM,
        expiry: Any = PARENT_EXPIRY_PARAM,
    ) -> Iterator:
        key, (kind, payload) = element
        record: Parent | None = parent.read()
        if kind == "parent":
            new: Parent = (payload[0], payload[1], payload[2])
            size = len(PARENT_CODER.encode(new))
            if record is not None:  # a new version of an agency item is decided again
                size -= len(PARENT_CODER.encode(record))
            parent.write(new)
            self._bytes.inc(size)
            if self._observe:
                yield beam.pvalue.TaggedOutput(STATE, ("parents", size, new[2]))
            expiry.set(Timestamp(micros=new[2] + self._horizon))
            waiting = sorted(
                (json.loads(a) for a in asks.read()),
                key=lambda a: (a["at"], a["story"]["story_id"]),
            )
            asks.clear()
            for item in waiting:
                item["story"] = Story.from_json(item["story"])
                yield from self._resolve(key, new, item)
            return
        if record is None:  # the member's own decision is still on its way
            parked = dict(payload, story=payload["story"].to_json())
            asks.add(json.dumps(parked, sort_keys=True))
            # Had its record expired already, the timer answers: the ask never waits forever.
            expiry.set(Timestamp(micros=payload["member_at"] + self._horizon))
            return
        yield from self._resolve(key, record, payload)

    def _resolve(self, key: str, record: Parent, item: dict) -> Iterator:
        story: Story = item["story"]
        if self._observe:
            yield beam.pvalue.TaggedOutput(
                READS, (story.story_id, len(PARENT_CODER.encode(record)))
            )
        above, above_at, _ = record
        if not above:  # the key is a canonical: the cluster's name
            yield self._named(story, key, item["at"])
        elif self._last or above == key:
            self._capped.inc()
            yield self._named(story, above, item["at"])
        else:
            message = {"story": story, "at": item["at"], "member_at": above_at}
            yield beam.pvalue.TaggedOutput(FORWARD, (above, ("ask", message)))

    def _named(self, story: Story, cluster: str, at: int) -> TimestampedValue:
        """The duplicate at its own event time, so the graph puts it back into its window."""
        if cluster != story.cluster_id:
            self._repointed.inc()
            story = story.replace(cluster_id=cluster, duplicate_of=cluster)
        return TimestampedValue(story, Timestamp(micros=at))

    @userstate.on_timer(PARENT_EXPIRY)
    def expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        key: Any = beam.DoFn.KeyParam,
        parent: Any = PARENT_PARAM,
        asks: Any = ASKS_PARAM,
        expiry: Any = PARENT_EXPIRY_PARAM,
    ) -> Iterator:
        if premature_expiry(float(fired)):
            self._deferred.inc()  # a bounded local runner fires every timer at once
            return
        now = int(Timestamp.of(fired).micros)
        for waiting in asks.read():  # the member is past the horizon: named as it is
            item = json.loads(waiting)
            self._expired.inc()
            yield self._named(Story.from_json(item["story"]), key, item["at"])
        asks.clear()
        record: Parent | None = parent.read()
        if record is None:
            return
        if record[2] + self._horizon > now:  # decided again since (a new agency version)
            expiry.set(Timestamp(micros=record[2] + self._horizon))
            return
        size = len(PARENT_CODER.encode(record))
        self._bytes.dec(size)
        if self._observe:
            yield beam.pvalue.TaggedOutput(STATE, ("parents", -size, now))
        parent.clear()
