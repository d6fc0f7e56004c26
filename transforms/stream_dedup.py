"""DeduplicateStream: exact-text de-duplication across windows, with state bounded by a horizon.

The interim streaming form of ``transforms.dedup`` (exact copies only, by ``content_hash``), used
by the streaming graph until the near-duplicate streaming form (keyed state per LSH band bucket)
lands; it has the same contract: Story -> {"ok": canonical, "duplicates": copies}.

1. ``GroupByContentHash`` groups the copies that arrive in one window (and pane), and the batch
   rule picks the window's canonical deterministically (``dedup.canonical_order``).
2. The groups are re-windowed into the global window so that ``ChooseCanonicalAcrossWindows``
   (a stateful DoFn keyed by content hash) sees every window: the first canonical seen for a
   hash wins, and every later copy becomes its duplicate (``same_url`` when it is the same
   article, else ``same_text``). Keyed state is per key *and window*, hence the global window.
3. Each hash's state carries a watermark timer at first-seen + horizon that clears it, so state
   holds at most one small JSON cell per distinct text of the last horizon. A copy that arrives
   after that is a new canonical (counted: ``dedup_stream_expired``).
4. The outputs go back into the fixed windows; their timestamps (the end of the window they were
   grouped in) put every record back into its own window.

``cluster_size`` of a canonical counts the copies known when it was written; later duplicates
carry the running size, since a written file is never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder
from apache_beam.metrics import Metrics
from apache_beam.transforms import window
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer

from transforms.dedup import canonical_order
from transforms.records import Story
from transforms.streaming import StreamConfig, premature_expiry, windowing

NAMESPACE = "wirestream"
DUPLICATES = "duplicates"


def dedup_key(story: Story) -> str:
    """The content hash; a story without one only matches itself (never a shared empty key)."""
    return story.content_hash or f"id:{story.story_id}"


# State and timer ids are part of the job's update contract: never rename them.
CANONICAL = ReadModifyWriteStateSpec("canonical", StrUtf8Coder())
TTL = TimerSpec("ttl", TimeDomain.WATERMARK)
CANONICAL_PARAM = beam.DoFn.StateParam(CANONICAL)
TTL_PARAM = beam.DoFn.TimerParam(TTL)


class ChooseCanonicalFn(beam.DoFn):
    """(content hash, copies of one window) -> canonical Story and duplicate Stories."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config

    def process(
        self,
        element: tuple[str, Iterable[Story]],
        timestamp=beam.DoFn.TimestampParam,
        canonical=CANONICAL_PARAM,
        ttl=TTL_PARAM,
    ) -> Iterator:
        _, stories = element
        members = sorted(stories, key=canonical_order)
        known = json.loads(canonical.read() or "null")
        copies = members
        if known is None:
            first = members[0]
            known = {"story_id": first.story_id, "size": 0}
            ttl.set(timestamp + self.config.horizon_seconds)
            Metrics.counter(NAMESPACE, "dedup_stream_canonical").inc()
            yield first.replace(cluster_id=first.story_id, cluster_size=len(members))
            copies = members[1:]
        else:
            Metrics.counter(NAMESPACE, "dedup_stream_cross_window").inc(len(members))
        known["size"] += len(members)
        canonical.write(json.dumps(known, sort_keys=True))
        for copy in copies:
            reason = "same_url" if copy.story_id == known["story_id"] else "same_text"
            Metrics.counter(NAMESPACE, f"dedup_{reason}").inc()
            yield beam.pvalue.TaggedOutput(
                DUPLICATES,
                copy.replace(
                    cluster_id=known["story_id"],
                    cluster_size=known["size"],
                    duplicate_of=known["story_id"],
                    duplicate_reason=reason,
                    similarity=1.0,
                ),
            )

    @on_timer(TTL)
    def expire(self, fired=beam.DoFn.TimestampParam, canonical=CANONICAL_PARAM) -> None:
        if premature_expiry(float(fired)):
            Metrics.counter(NAMESPACE, "dedup_stream_expiry_deferred").inc()
            return
        Metrics.counter(NAMESPACE, "dedup_stream_expired").inc()
        canonical.clear()


class DeduplicateStream(beam.PTransform):
    """Story -> {"ok": canonical Story, "duplicates": Story copies}, across windows."""

    def __init__(self, config: StreamConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, stories):
        results = (
            stories
            | "KeyByContentHash"
            >> beam.Map(lambda s: (dedup_key(s), s)).with_output_types(
                beam.typehints.Tuple[str, Story]
            )
            | "GroupByContentHash" >> beam.GroupByKey()
            | "IntoGlobalWindow" >> beam.WindowInto(window.GlobalWindows())
            | "ChooseCanonicalAcrossWindows"
            >> beam.ParDo(ChooseCanonicalFn(self.config)).with_outputs(DUPLICATES, main="ok")
        )
        return {
            "ok": results.ok | "RewindowCanonical" >> windowing(self.config),
            "duplicates": results[DUPLICATES] | "RewindowDuplicates" >> windowing(self.config),
        }
