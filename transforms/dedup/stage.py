"""DeduplicateStories: one canonical story per cluster of copies; every copy kept and linked.

Batch (scheduled runs), see ``transforms/dedup/batch.py`` for the graph and
``transforms/dedup/minhash.py`` for the fingerprints and the verification maths:

* exact copies group on ``content_hash`` (normalised text) -> ``same_text``;
* near copies (re-headlined, abridged, boilerplate-wrapped, spun) are found by MinHash LSH
  buckets, every candidate pair is verified (Jaccard estimate or bottom-k containment) and the
  clusters are the connected components of verified pairs -> ``near_duplicate``;
* the canonical is the earliest published story, then fewer cleaning-rule hits, then longer
  text, then story id; ``cluster_id`` is the canonical's story id;
* with ``--state_location`` the run also dedups against the fingerprints of the runs within
  ``--dedup_horizon_days`` (a new copy of yesterday's story points at yesterday's canonical) and,
  after its outputs are written, stores its own (``transforms/dedup/store.py``). A story an
  earlier run already wrote goes to ``rejected`` with reason ``already_stored``.

Streaming (``DedupConfig(streaming=True)``, set by ``--streaming``): the same fingerprints and
verification with keyed state per bucket and an event-time TTL of ``--stream_horizon_hours``,
first-seen wins, grouped in the job's windows and allowed lateness
(``transforms/dedup/streaming.py``). A story seen again (same story id) is a ``same_url``
duplicate there, not ``already_stored``: the job itself wrote the first one.

Trafilatura's own ``deduplicate=True`` is never used: its LRU cache of seen paragraphs makes
the extracted text depend on which pages a worker happened to see before (non-deterministic) and
silently deletes repeated passages from the text instead of recording a decision.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.core import windowing
from transforms.core.records import Rejected, Story
from transforms.core.run import RunIdentity
from transforms.dedup import config as settings
from transforms.dedup.batch import DedupStories
from transforms.dedup.in_memory import deduplicate_in_memory as deduplicate_in_memory
from transforms.dedup.minhash import MinHashConfig
from transforms.dedup.store import AppendFingerprints, StoreConfig
from transforms.dedup.streaming import StreamingDedup

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"
DEFAULT_HORIZON_DAYS = 7


@dataclass(frozen=True)
class DedupConfig:
    """Dedup knobs; ``str(config.minhash)`` belongs in the run report's settings."""

    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    state_location: str | None = None
    run_date: str | None = None  # YYYY-MM-DD[THH]; partition the store appends to
    run_id: str | None = None
    horizon_days: int = DEFAULT_HORIZON_DAYS
    streaming: bool = False
    # streaming only: the job's windows, allowed lateness and state horizon (None: defaults,
    # with ``horizon_days`` as the state horizon)
    stream: windowing.StreamConfig | None = None
    components_rounds: int = 2
    observe_stream_state: bool = False  # adds state observations (tests, benchmarks, monitoring)

    def __post_init__(self) -> None:
        if self.horizon_days < 0:
            raise ValueError("--dedup_horizon_days must be >= 0")
        if self.components_rounds < 1:
            raise ValueError("components_rounds must be >= 1")

    @property
    def stream_horizon_seconds(self) -> int:
        """How long streaming state remembers a story."""
        if self.stream is not None:
            return self.stream.horizon_seconds
        return self.horizon_days * 86400

    @property
    def store(self) -> StoreConfig | None:
        if not self.state_location:
            return None
        run_date = (self.run_date or "")[:10]
        if not run_date:
            raise ValueError("a fingerprint store needs a run date (--run_date YYYY-MM-DD)")
        run_id = self.run_id or self.run_date or run_date
        run_id = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in run_id)
        return StoreConfig(self.state_location, run_date, run_id, self.horizon_days)


def _already_stored(story: Story) -> Rejected:
    return Rejected(
        stage="dedup",
        reason="already_stored",
        url=story.url,
        story_id=story.story_id,
        duplicate_of=story.cluster_id,
        entry_id=story.entry_id,
        at=story.fetched_at,
        detail="written by an earlier run (its fingerprint is in the dedup store)",
        feed_url=story.feed_url,
    )


class DeduplicateStories(beam.PTransform):
    """Story -> {"ok", "duplicates", "rejected", "dead", "fingerprints"} in batch.

    ``fingerprints`` are this run's decided stories for the store; pass them to
    ``StoreFingerprints`` after the write so a failed write is never recorded as done. The
    streaming form returns only the outputs it has: ``ok``, ``duplicates`` and ``dead`` (plus,
    with ``observe_stream_state``, ``bucket_state_sizes``, ``state_reads`` and ``state_bytes``:
    see ``StreamingDedup``).
    """

    def __init__(self, config: DedupConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, stories: beam.PCollection) -> dict[str, beam.PCollection]:
        config = self.config
        if config.streaming:
            # Only what the streaming form produces: a repeat within the job is a same_url
            # duplicate (no store, so no already_stored rejections and no fingerprints to append).
            outputs = stories | "StreamingDedup" >> StreamingDedup(
                config.minhash,
                horizon_seconds=config.stream_horizon_seconds,
                stream=config.stream,
                observe_state=config.observe_stream_state,
            )
            result = {key: outputs[key] for key in ("ok", "duplicates", "dead") if key in outputs}
            if "held" in outputs:
                result["bucket_state_sizes"] = outputs["held"]
                result["state_reads"] = outputs["reads"]
                result["state_bytes"] = outputs["state"]
            return result
        outputs = stories | "Dedup" >> DedupStories(
            config.minhash, config.store, config.components_rounds
        )
        return {
            "ok": outputs["ok"],
            "duplicates": outputs["duplicates"],
            "rejected": outputs["seen"] | "AlreadyStored" >> beam.Map(_already_stored),
            "dead": outputs["dead"],
            "fingerprints": outputs["fingerprints"],
        }


class StoreFingerprints(beam.PTransform):
    """Appends the run's fingerprints to the store once ``after`` (the written files) is done."""

    def __init__(self, config: DedupConfig, after: beam.PCollection | None = None) -> None:
        super().__init__()
        self.config = config
        self.after = after

    def expand(self, fingerprints: beam.PCollection) -> beam.PCollection:
        store = self.config.store
        if store is None or self.config.streaming:
            return fingerprints.pipeline | "NoStore" >> beam.Create([])
        return fingerprints | "AppendFingerprints" >> AppendFingerprints(
            store, self.config.minhash, after=self.after
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Dedup flags; ``--state_location``, ``--run_date`` and ``--run_id`` are job-level flags."""
    group = parser.add_argument_group("dedup")
    group.add_argument(
        "--dedup_horizon_days",
        type=int,
        default=DEFAULT_HORIZON_DAYS,
        help="How many days of earlier runs (batch, via --state_location) a new story is "
        "de-duplicated against. Streaming keeps its dedup state for --stream_horizon_hours.",
    )
    settings.add_arguments(group)


class DedupOptions(PipelineOptions):
    """The dedup flags, typed: ``options.view_as(DedupOptions)``."""

    dedup_horizon_days: int
    dedup_shingle_size: int
    dedup_num_perm: int
    dedup_bands: int
    dedup_rows: int
    dedup_seed: int
    dedup_jaccard_threshold: float
    dedup_containment_threshold: float
    dedup_max_bucket_size: int

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(
    options: PipelineOptions,
    run: RunIdentity,
    state_location: str | None,
    stream: windowing.StreamConfig | None = None,
) -> DedupConfig:
    """Batch dedup, or with ``stream`` (``--streaming``) its streaming form in those windows.

    The fingerprint store's partition and file name come from the job's run identity
    (``transforms.core.run``), like the output files and the feed state.
    """
    if state_location and not run.dated:
        logger.warning(
            "no --run_date: dedup store partition %s, run id %s", run.run_date, run.run_id
        )
    view = options.view_as(DedupOptions)
    signatures = MinHashConfig(
        shingle_size=view.dedup_shingle_size,
        num_perm=view.dedup_num_perm,
        bands=view.dedup_bands,
        rows=view.dedup_rows,
        seed=view.dedup_seed,
        jaccard_threshold=view.dedup_jaccard_threshold,
        containment_threshold=view.dedup_containment_threshold,
        max_bucket_size=view.dedup_max_bucket_size,
    )
    return DedupConfig(
        minhash=signatures,
        state_location=state_location,
        run_date=run.run_date,
        run_id=run.run_id,
        horizon_days=view.dedup_horizon_days,
        streaming=stream is not None,
        stream=stream,
    )
