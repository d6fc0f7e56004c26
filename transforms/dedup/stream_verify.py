"""Streaming dedup, verification side: candidates gathered per story, fingerprints stored once.

``GatherCandidates`` (keyed by arrival) merges the candidate members that all of a story's
buckets proposed, so a copy that meets its original in dozens of buckets is checked once, with
the number of buckets it met it in (the tie-break of ``transforms/dedup/streaming.py``).
``StoreFingerprints`` (keyed by story id) holds each story's fingerprint once, for the horizon,
and verifies every candidate against it with ``minhash.verify`` on the exact batch fingerprints.
The cells' ids and coders are part of the streaming job's ``--update`` contract.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.coders import BytesCoder, StrUtf8Coder, TupleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.utils.timestamp import Timestamp

from transforms.core.records import stable_hash
from transforms.core.windowing import premature_expiry
from transforms.dedup.minhash import Fingerprint, MinHashConfig, MinHasher, verify

NAMESPACE = "wirestream"
EXACT_KEY_TAG = b"\xfe"
ARRIVALS = "arrivals"
READS = "reads"
STATE = "state"

# Stored fingerprint: (arrival hash, event time micros, canonical key, signature, sample,
# shingle count, content hash).
PRINT_CODER = TupleCoder(
    [
        StrUtf8Coder(),
        VarIntCoder(),
        StrUtf8Coder(),
        BytesCoder(),
        BytesCoder(),
        VarIntCoder(),
        StrUtf8Coder(),
    ]
)
Stored = tuple[str, int, str, bytes, bytes, int, str]


def _counter(name: str) -> Metrics.DelegatingCounter:
    return Metrics.counter(NAMESPACE, f"dedup_stream_{name}")


def _arrival_hash(arrival: str) -> str:
    return stable_hash(arrival, length=16)


def _fingerprint(stored: Stored, story_id: str) -> Fingerprint:
    _, _, _, signature, sample, shingles, content_hash = stored
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


def _bucket_keys(hasher: MinHasher, fp: Fingerprint) -> set[bytes]:
    if fp.empty:
        return set()
    return {EXACT_KEY_TAG + fp.content_hash.encode("utf-8"), *hasher.bucket_keys(fp)}


GATHERED = userstate.BagStateSpec("gathered", StrUtf8Coder())
# (fingerprints in, candidate lists still to come): the bag is read once, when it is complete,
# not once per message (52 reads of a growing bag per story, most of the step's CPU).
GATHER_COUNT = userstate.ReadModifyWriteStateSpec(
    "gather_count", TupleCoder([VarIntCoder(), VarIntCoder()])
)
GATHERED_PARAM = beam.DoFn.StateParam(GATHERED)
GATHER_COUNT_PARAM = beam.DoFn.StateParam(GATHER_COUNT)


class GatherCandidatesFn(beam.DoFn):
    """Per arrival: the candidates of all its buckets, each member once, with its bucket count.

    A near-copy shares dozens of buckets with its original; checking it once, not once per
    bucket, reads the member's stored fingerprint once. The count (``met``) tells the decision
    in how many buckets the member was there first (the tie-break). Held only until the
    story's buckets have all answered: ``gather_count`` counts the messages in, so the bag is
    read once, when the last one is.
    """

    def process(
        self,
        element: tuple[str, tuple],
        gathered: Any = GATHERED_PARAM,
        count: Any = GATHER_COUNT_PARAM,
    ) -> Iterator:
        arrival, message = element
        prints, outstanding = count.read() or (0, 0)
        if message[0] == "print":
            _, story_id, stored, buckets = message
            gathered.add(json.dumps(["print", _check_json(arrival, story_id, stored, 0), buckets]))
            prints, outstanding = prints + 1, outstanding + buckets
        else:
            gathered.add(json.dumps(list(message)))
            outstanding -= 1
        if not prints or outstanding:
            count.write((prints, outstanding))
            return
        held = [json.loads(g) for g in gathered.read()]
        gathered.clear()
        count.clear()
        met: dict[str, int] = {}
        since: dict[str, int] = {}
        for members in (g[2] for g in held if g[0] == "cands"):
            for member, member_at in members:
                met[member] = met.get(member, 0) + 1
                since[member] = member_at
        check = next(g[1] for g in held if g[0] == "print")
        for member in sorted(met):
            yield member, ("check", arrival, dict(check, met=met[member], member_at=since[member]))
        for n in range(prints):
            yield beam.pvalue.TaggedOutput(
                ARRIVALS, (arrival, ("expect", len(met) if n == 0 else 0))
            )


PRINT = userstate.ReadModifyWriteStateSpec("print", PRINT_CODER)
PENDING = userstate.BagStateSpec("pending", StrUtf8Coder())
PRINT_EXPIRY = userstate.TimerSpec("print_expiry", TimeDomain.WATERMARK)
PRINT_PARAM = beam.DoFn.StateParam(PRINT)
PENDING_PARAM = beam.DoFn.StateParam(PENDING)
PRINT_EXPIRY_PARAM = beam.DoFn.TimerParam(PRINT_EXPIRY)


class StoreFingerprintsFn(beam.DoFn):
    """Per story id: the fingerprint, stored once; verifies every candidate proposed against it."""

    def __init__(self, config: MinHashConfig, horizon_seconds: int, observe: bool = False) -> None:
        self._config = config
        self._observe = observe
        self._horizon = int(horizon_seconds) * 1_000_000
        self._bytes = _counter("state_bytes")
        self._stored = _counter("prints_stored")
        self._expired = _counter("prints_expired")
        self._deferred = _counter("expiry_deferred")
        self._accepted = _counter("pairs_verified")
        self._refused = _counter("pairs_refused")
        self._gone = _counter("candidates_expired")

    def setup(self) -> None:
        self._hasher = MinHasher(self._config)

    def process(
        self,
        element: tuple[str, tuple],
        stored: Any = PRINT_PARAM,
        pending: Any = PENDING_PARAM,
        expiry: Any = PRINT_EXPIRY_PARAM,
    ) -> Iterator:
        story_id, (kind, arrival, record) = element
        mine: Stored | None = stored.read()
        if kind == "store":
            if mine is not None:
                seen = mine[0] != _arrival_hash(arrival)
                changed = seen and record[6] != mine[6]  # a new text under a known id
                yield arrival, ("stored", story_id if seen else None, mine[1], changed)
                return
            yield arrival, ("stored", None, record[1])
            if not record[3]:  # an empty text is never a member: nothing to compare with
                return
            stored.write(record)
            size = len(PRINT_CODER.encode(record))
            self._bytes.inc(size)
            self._stored.inc()
            if self._observe:
                yield beam.pvalue.TaggedOutput(STATE, ("prints", size, record[1]))
            expiry.set(Timestamp(micros=record[1] + self._horizon))
            for waiting in pending.read():
                yield from self._check(story_id, record, json.loads(waiting))
            pending.clear()
            return
        if mine is None:  # the member's own fingerprint is still on its way
            pending.add(json.dumps(record, sort_keys=True))
            # Had it expired already (a late story meeting a member at the horizon), the timer
            # answers the check "not verified", so the story is decided, never left waiting.
            expiry.set(Timestamp(micros=record["member_at"] + self._horizon))
            return
        yield from self._check(story_id, mine, record)

    def _check(self, member_id: str, mine: Stored, check: dict) -> Iterator:
        import base64

        arrival, other_id = check["arrival"], check["id"]
        if self._observe:
            yield beam.pvalue.TaggedOutput(READS, (other_id, len(PRINT_CODER.encode(mine))))
        other: Stored = (
            "",
            check["at"],
            check["order"],
            base64.b64decode(check["signature"]),
            base64.b64decode(check["sample"]),
            check["shingles"],
            check["content_hash"],
        )
        a, b = _fingerprint(other, other_id), _fingerprint(mine, member_id)
        verdict = verify(a, b, self._config)
        (self._accepted if verdict.duplicate else self._refused).inc()
        shared = len(_bucket_keys(self._hasher, a) & _bucket_keys(self._hasher, b))
        yield (
            arrival,
            (
                "verdict",
                member_id,
                mine[1],
                mine[2],
                verdict.duplicate,
                verdict.similarity,
                a.content_hash == b.content_hash,
                shared,
                check["met"],
            ),
        )

    @userstate.on_timer(PRINT_EXPIRY)
    def expire(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        key: Any = beam.DoFn.KeyParam,
        stored: Any = PRINT_PARAM,
        pending: Any = PENDING_PARAM,
    ) -> Iterator:
        if premature_expiry(float(fired)):
            self._deferred.inc()
            return
        for waiting in pending.read():  # the member is past the horizon: nothing to verify
            check = json.loads(waiting)
            self._gone.inc()
            yield check["arrival"], ("verdict", key, 0, "", False, 0.0, False, 0, check["met"])
        pending.clear()
        mine = stored.read()
        if mine is None:
            return
        size = len(PRINT_CODER.encode(mine))
        self._bytes.dec(size)
        if self._observe:
            now = int(Timestamp.of(fired).micros)
            yield beam.pvalue.TaggedOutput(STATE, ("prints", -size, now))
        self._expired.inc()
        stored.clear()


def _check_json(arrival: str, story_id: str, stored: Stored, met: int) -> dict:
    """A story to check against a member, as JSON (``gathered`` and ``pending`` cells)."""
    import base64

    _, at, order, signature, sample, shingles, content_hash = stored
    return {
        "arrival": arrival,
        "id": story_id,
        "at": at,
        "order": order,
        "signature": base64.b64encode(signature).decode("ascii"),
        "sample": base64.b64encode(sample).decode("ascii"),
        "shingles": shingles,
        "content_hash": content_hash,
        "met": met,
    }


# State ids of the decision steps: part of the job's --update contract.
