"""CollapseSameUrlInWindows: the batch same-URL collapse, made safe for late panes.

In batch, entries sharing a canonical URL are fetched once and the others (*riders*) are given
their winner's outcome by ``ResolveRiders``, a join on the winner's entry id after the last
stage. In streaming that join happens per window *and pane*. On time that is sound: the
watermark cannot pass the window's end at the join while the winner's outcome is still on its
way. A late pane, however, fires for every late element on its own, so a rider and its
winner's outcome would land in different panes of the join and the rider would become a
``lost_winner`` dead letter. So in a late pane nothing rides: every entry is fetched, and the
cross-window dedup then marks the copies (``same_url``). Late same-URL entries are rare; the
price is one extra fetch each (counted: ``entries_same_url_late``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import PaneInfoTiming

from transforms.core.records import FeedEntry
from transforms.fetch.same_url import RIDERS, split_same_url

NAMESPACE = "wirestream"


class PickWinnerFn(beam.DoFn):
    def process(
        self, item: tuple[str, Iterable[FeedEntry]], pane=beam.DoFn.PaneInfoParam
    ) -> Iterator:
        if pane.timing == PaneInfoTiming.LATE:
            entries = sorted(item[1], key=lambda e: e.entry_id)
            if len(entries) > 1:
                Metrics.counter(NAMESPACE, "entries_same_url_late").inc(len(entries) - 1)
            yield from entries
            return
        yield from split_same_url(item)


class CollapseSameUrlInWindows(beam.PTransform):
    """FeedEntry -> {"ok": one entry per canonical URL and pane, "riders": (winner id, entry)}."""

    def expand(self, entries):
        results = (
            entries
            | "KeyByCanonicalUrl"
            >> beam.Map(lambda e: (e.canonical_url, e)).with_output_types(
                beam.typehints.Tuple[str, FeedEntry]
            )
            | "GroupByCanonicalUrl" >> beam.GroupByKey()
            | "PickWinner" >> beam.ParDo(PickWinnerFn()).with_outputs(RIDERS, main="ok")
        )
        return {"ok": results.ok, "riders": results[RIDERS]}
