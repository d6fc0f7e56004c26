"""Graph assembly: the stages wired in order, with every side output collected.

``build_pipeline`` (batch: the feed list read once) and ``build_streaming_pipeline`` (a poll clock
and/or Pub/Sub, fixed windows, cross-window near-duplicate dedup) differ in their source and in
the few pieces ``ModeParts`` names (same-URL collapse, dedup, re-windowing); both hand the
entries to ``wire_stages``, which wires fetch, extract, language, tags, dedup, the rider
accounting and the partitioned writes the same way for both. Agency files (``--wire_input``,
``transforms/sources/wire``) are read by ``ReadWireItems`` (batch) or ``WatchWireItems``
(streaming); their stories join the web stories after extraction. Batch then removes a re-run's
stale files and stores the dedup fingerprints, once its files are written. They return the
PCollections they made (``Outputs``) so tests can attach ``assert_that`` to any of them;
``JobConfig.from_options`` does the preflight checks (feed list readable and valid, option values
sane, output and state locations writable: pipeline/preflight.py) before any worker starts.

Step labels are the job's ``--update`` contract on Dataflow: they are fixed strings, never
derived from data or options, and a renamed label is a new step with empty state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.config import load_feed_list
from pipeline.options import WirestreamOptions, bundled_sample, bundled_wire
from pipeline.preflight import run_preflight
from pipeline.report import GateConfig, gate_from_options
from pipeline.state_check import check_state
from transforms.core import progress
from transforms.core import windowing as streaming
from transforms.core.records import FeedSource
from transforms.core.run import RunIdentity
from transforms.dedup import stage as dedup
from transforms.extract import stage as extract
from transforms.fetch import stage as fetch
from transforms.fetch.same_url import CollapseSameUrl, ResolveRiders
from transforms.fetch.stream_same_url import CollapseSameUrlInWindows
from transforms.language import stage as language
from transforms.sinks import partitioned as write
from transforms.sinks.rerun import RemoveStaleRunFiles
from transforms.sources import pubsub, retry_errors
from transforms.sources import read_feeds as feeds
from transforms.sources.feed_health import WriteFeedHealth
from transforms.sources.feed_state import CommitFeedState
from transforms.sources.poll_feeds import PollFeeds, poll_ticks
from transforms.sources.wire import stage as wire
from transforms.sources.wire.state import CommitWireState
from transforms.tags import stage as tags


@dataclass(frozen=True)
class JobConfig:
    sources: tuple[FeedSource, ...]
    feeds: feeds.FeedsConfig
    fetch: fetch.FetchConfig
    extract: extract.ExtractConfig
    language: language.LanguageConfig
    tags: tags.TagConfig
    dedup: dedup.DedupConfig
    write: write.WriteConfig
    run: RunIdentity  # names the output files, the fingerprint file and the feed-state snapshot
    stream: streaming.StreamConfig = field(default_factory=streaming.StreamConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    # What the state preflight verified or quarantined (pipeline/state_check.py), for the report.
    state_check: dict = field(default_factory=dict)
    retry: retry_errors.RetryPlan | None = None  # --retry_errors: dead letters as the source
    wire: wire.WireConfig = field(default_factory=wire.WireConfig)  # --wire_input

    @classmethod
    def from_options(cls, options: PipelineOptions, now: datetime | None = None) -> JobConfig:
        """Every setting of the job, resolved once; ``options`` are read, never written.

        Without ``--feeds`` (and ``--wire_input``) the job runs the bundled sample, replayed from
        its archive unless ``--replay`` names another, with its agency drop folder (batch).
        ``now`` is the start time (default: the clock, read once here): the one reading the run
        identity is made from when there is no ``--run_date``.
        """
        job = options.view_as(WirestreamOptions)
        retry_view = options.view_as(retry_errors.RetryOptions)
        is_streaming = bool(options.view_as(StandardOptions).streaming)
        feed_list, default_replay = job.feeds, None
        wire_input = options.view_as(wire.WireOptions).wire_input
        if feed_list is None and not retry_view.retry_errors and not wire_input:
            feed_list, default_replay = bundled_sample()
            if not is_streaming:  # the offline demo: the agency originals of its stories too
                wire_input = bundled_wire()
        sources = tuple(load_feed_list(feed_list)) if feed_list else ()
        retry = None
        if retry_view.retry_errors:
            # The dead letters replace the feed list; the list (if given) only names feeds.
            reasons = retry_errors.reasons_of(retry_view.retry_reasons)
            retry = retry_errors.plan_retry(retry_view.retry_errors, reasons, sources)
            sources = retry_errors.feed_sources(retry, sources)
        fetch_config = fetch.config_from_options(options, replay=default_replay)
        run = RunIdentity.resolve(
            run_id=job.run_id,
            run_date=job.run_date,
            replay=fetch_config.replay,
            now=now or datetime.now(UTC),
        )
        write_config = write.config_from_options(options, run)
        bundled = fetch_config.replay == bundled_sample()[1]  # package data: on every worker
        extract_config = extract.config_from_options(options)
        wire_config = wire.config_from_options(
            options, run, job.state_location, extract_config, wire_input
        )
        # The input is listed now; its state is verified (or quarantined) with the rest below.
        wire.check_input(wire_config)
        run_preflight(
            write_config.output,
            job.state_location,
            options,
            worker_inputs={
                "--replay": None if bundled else fetch_config.replay,
                "--wire_input": None if wire_input == bundled_wire() else wire_input,
            },
            worker_outputs={"--capture_warc": fetch_config.capture_warc},
        )
        stream = streaming.config_from_options(options)
        feeds_config = feeds.config_from_options(options, run, job.state_location, fetch_config)
        dedup_config = dedup.config_from_options(
            options, run, job.state_location, stream if is_streaming else None
        )
        # Damaged state stops the run here, before any output (exit 2), or is quarantined.
        state = check_state(
            feeds_config.state,
            None if dedup_config.streaming else dedup_config.store,
            dedup_config.minhash,
            options.get_all_options().get("state_repair") or "none",
            wire=wire_config.state,
            wire_snapshot=wire_config.enabled and not is_streaming,
        )
        return cls(
            sources=sources,
            feeds=feeds_config,
            fetch=fetch_config,
            extract=extract_config,
            language=language.config_from_options(options),
            tags=tags.config_from_options(options),
            dedup=dedup_config,
            write=write_config,
            stream=stream,
            run=run,
            gate=gate_from_options(options),
            state_check=state.to_json(),
            retry=retry,
            wire=wire_config,
        )


@dataclass
class Outputs:
    entries: beam.PCollection
    pages: beam.PCollection
    stories: beam.PCollection
    duplicates: beam.PCollection
    rejected: beam.PCollection
    dead: beam.PCollection
    files: beam.PCollection
    # the dedup's decided stories, for the cross-run store (``StoreFingerprints``, batch)
    fingerprints: beam.PCollection | None = None


@dataclass(frozen=True)
class ModeParts:
    """The pieces in which a batch graph and a streaming graph differ; ``wire_stages`` wires the
    rest the same way for both.

    ``window`` (streaming) gives a transform that puts a collection into the job's windows:
    a stage may emit outside them (an empty ``Create``, or a dedup deciding in windows of its
    own), so dedup outputs and every dead-letter input are re-windowed before they are joined
    or flattened. Batch has none, and its graph is exactly the walking skeleton's.
    """

    collapse: beam.PTransform  # same-URL entries, before fetching
    dedup: beam.PTransform
    window: Callable[[], beam.PTransform] | None = None

    def aligned(self, pcoll: beam.PCollection, label: str) -> beam.PCollection:
        return pcoll if self.window is None else pcoll | label >> self.window()


def batch_parts(job: JobConfig) -> ModeParts:
    return ModeParts(collapse=CollapseSameUrl(), dedup=dedup.DeduplicateStories(job.dedup))


def streaming_parts(job: JobConfig) -> ModeParts:
    config = job.stream
    return ModeParts(
        collapse=CollapseSameUrlInWindows(),
        dedup=streaming_dedup(job),
        window=lambda: streaming.windowing(config),
    )


def build_pipeline(p: beam.Pipeline, job: JobConfig) -> Outputs:
    sources = p | "FeedSources" >> beam.Create(list(job.sources))
    read = sources | "ReadFeeds" >> feeds.ReadFeeds(job.feeds)
    entries = read["ok"]
    if job.retry is not None:
        retried = p | "RetryDeadLetters" >> retry_errors.RetryDeadLetters(job.retry)
        entries = (entries, retried) | "WithRetriedEntries" >> beam.Flatten()
    agency = wire.ReadWireItems(job.wire) if job.wire.enabled else None
    items = p | "ReadWireItems" >> agency if agency is not None else None
    outputs = wire_stages(p, entries, read["dead"], job, batch_parts(job), wire_items=items)
    # A re-run of the same run id must leave only its own files (transforms/sinks/rerun.py);
    # batch only: it waits for every file of the run, which a streaming run never finishes.
    _ = outputs.files | "RemoveStaleRunFiles" >> RemoveStaleRunFiles(job.write)
    if outputs.fingerprints is not None:  # cross-run dedup state, stored only after the write
        _ = outputs.fingerprints | "StoreFingerprints" >> dedup.StoreFingerprints(
            job.dedup, after=outputs.files
        )
    # Per-feed health for the run report and the failure gate (transforms/sources/feed_health.py).
    _ = read["health"] | "WriteFeedHealth" >> WriteFeedHealth(job.write.output, job.write.run_id)
    # A retry run reads feed and wire state but leaves both to the scheduled runs.
    if agency is not None and items is not None and job.wire.state.enabled and job.retry is None:
        # Like the feed state: committed only once the outputs are written.
        _ = items["read"] | "CommitWireState" >> CommitWireState(
            job.wire.state, agency.kept, after=outputs.files
        )
    if job.feeds.state.enabled and job.retry is None and job.sources:
        # Only once the outputs are written: a run that fails before leaves the previous state
        # in charge, so its entries are emitted again. Transient fetch failures are handed back.
        _ = read["state"] | "CommitFeedState" >> CommitFeedState(
            job.feeds.state, after=outputs.files, retry=outputs.dead
        )
    return outputs


def build_streaming_pipeline(
    p: beam.Pipeline,
    job: JobConfig,
    ticks: beam.PCollection | None = None,
    messages: beam.PCollection | None = None,
    start: float | None = None,
) -> Outputs:
    """The streaming graph: poll ticks (and/or Pub/Sub messages) -> the same stages, windowed.

    ``ticks`` and ``messages`` replace the PeriodicImpulse clock and the Pub/Sub reader (tests
    pass TestStreams); ``start`` is the first tick's time (epoch seconds, default now).
    """
    config = job.stream
    entries: list[beam.PCollection] = []
    dead: list[beam.PCollection] = []
    items = None
    if job.wire.enabled:
        import time

        first = time.time() if start is None else start
        stop = first + config.duration_seconds if config.duration_seconds else None
        items = p | "WatchWireItems" >> wire.WatchWireItems(
            job.wire, lambda: streaming.windowing(config), start=first, stop=stop
        )
    if job.sources:
        if ticks is None:
            import time

            ticks = p | "PollClock" >> poll_ticks(config, time.time() if start is None else start)
        polled = ticks | "PollFeeds" >> PollFeeds(job.sources, job.feeds, config)
        entries.append(polled["ok"])
        dead.append(polled["dead"])
    if messages is None and config.pubsub_subscription:
        messages = p | "ReadPubSub" >> beam.io.ReadFromPubSub(
            subscription=config.pubsub_subscription
        )
    if messages is not None:
        parsed = messages | "ParsePubSubEntries" >> pubsub.ParseEntryMessages(config)
        entries.append(parsed["ok"])
        dead.append(parsed["dead"])
    if not entries and items is None:
        raise ValueError("streaming needs feeds (--feeds), --wire_input or --pubsub_subscription")
    if not entries:  # agency files only
        entries.append(p | "NoFeedEntries" >> beam.Create([]))
        dead.append(p | "NoFeedDeadLetters" >> beam.Create([]))
    windowed = (
        entries
        | "FlattenSources" >> beam.Flatten()
        | "WindowEntries" >> (streaming.windowing(config))
    )
    source_dead = dead | "FlattenSourceDeadLetters" >> beam.Flatten()
    outputs = wire_stages(p, windowed, source_dead, job, streaming_parts(job), wire_items=items)
    if config.pubsub_topic:
        _ = (
            outputs.stories
            | "CanonicalIdMessages" >> beam.ParDo(pubsub.CanonicalIdMessageFn())
            | "PublishCanonicalIds"
            >> beam.io.WriteToPubSub(config.pubsub_topic, with_attributes=True)
        )
    return outputs


def streaming_dedup(job: JobConfig) -> beam.PTransform:
    """The near-duplicate streaming form (``transforms/dedup/streaming.py``) in the job's windows.

    Whatever built ``job`` (``from_options`` with ``--streaming`` already sets both), the
    streaming graph never runs the batch dedup and never groups in windows other than its own.
    """
    config = replace(job.dedup, streaming=True, stream=job.stream)
    return dedup.DeduplicateStories(config)


def wire_stages(
    p: beam.Pipeline,
    entries: beam.PCollection,
    feed_dead: beam.PCollection,
    job: JobConfig,
    parts: ModeParts,
    wire_items: dict[str, beam.PCollection] | None = None,
) -> Outputs:
    """Entries -> fetch, extract, language, tags, dedup, rider accounting, partitioned writes.

    ``wire_items`` (agency files, ``transforms/sources/wire``) join after extraction: their
    stories are cleaned already and go through language, tags and dedup with the web stories.
    """
    # Progress tallies (transforms/core/progress.py): in line before the slow stages (extract,
    # language), so an element is counted before the next stage works on it; side taps elsewhere.
    progress.tap(entries, "entries", "ProgressEntries")
    collapsed = entries | "CollapseSameUrl" >> parts.collapse
    fetched = collapsed["ok"] | "FetchArticles" >> fetch.FetchArticles(job.fetch)
    pages = progress.counted(fetched["ok"], "pages", "ProgressPages")
    extracted = pages | "ExtractStories" >> extract.ExtractStories(job.extract)
    stories = progress.counted(extracted["ok"], "stories", "ProgressStories")
    if wire_items is not None:  # agency stories: cleaned already, counted by their reader
        stories = (stories, wire_items["ok"]) | "WithWireStories" >> beam.Flatten()
    detected = stories | "DetectLanguage" >> language.DetectLanguage(job.language)
    progress.tap(detected["ok"], "language", "ProgressLanguage")
    tagged = detected["ok"] | "TagStories" >> tags.TagStories(job.tags)
    progress.tap(tagged["ok"], "tags", "ProgressTags")
    deduped = tagged["ok"] | "DeduplicateStories" >> parts.dedup
    progress.tap(deduped["ok"], "dedup", "ProgressDedup")
    # A dedup stage may decide in windows of its own: put its outputs back into ours.
    deduped = {
        **deduped,
        "ok": parts.aligned(deduped["ok"], "WindowCanonicalStories"),
        "duplicates": parts.aligned(deduped["duplicates"], "WindowDuplicateStories"),
    }

    dead_inputs = {
        "Feeds": feed_dead,
        "Fetch": fetched["dead"],
        "Extract": extracted["dead"],
        "Language": detected["dead"],
        "Tags": tagged["dead"],
        **({"Dedup": deduped["dead"]} if "dead" in deduped else {}),
        **({"Wire": wire_items["dead"]} if wire_items is not None else {}),
    }
    dead_inputs = {
        name: parts.aligned(pcoll, f"Window{name}DeadLetters")
        for name, pcoll in dead_inputs.items()
    }
    dead_before = tuple(dead_inputs.values()) | "FlattenDeadLetters" >> beam.Flatten()
    progress.tap(dead_before, "dead", "ProgressDeadLetters")
    # Dedup rejects stories an earlier run already wrote (already_stored); riders follow them.
    dedup_rejected = [
        parts.aligned(pcoll, "WindowDedupRejected")
        for pcoll in ([deduped["rejected"]] if "rejected" in deduped else [])
    ]
    wire_rejected = [wire_items["rejected"]] if wire_items is not None else []
    rejected_before = (
        extracted["rejected"],
        *dedup_rejected,
        *wire_rejected,
    ) | "FlattenRejected" >> beam.Flatten()
    riders = p | "ResolveRiders" >> ResolveRiders(
        collapsed["riders"],
        deduped["ok"],
        deduped["duplicates"],
        rejected_before,
        dead_before,
    )
    duplicates = (deduped["duplicates"], riders["duplicates"]) | "AllDuplicates" >> beam.Flatten()
    rejected = (rejected_before, riders["rejected"]) | "AllRejected" >> beam.Flatten()
    progress.tap(riders["dead"], "dead", "ProgressRiderDeadLetters")
    dead = (dead_before, riders["dead"]) | "AllDeadLetters" >> beam.Flatten()
    files = {
        "stories": deduped["ok"],
        "duplicates": duplicates,
        "rejected": rejected,
        "errors": dead,
    } | "WritePartitioned" >> write.WritePartitioned(job.write)
    return Outputs(
        entries=entries,
        pages=fetched["ok"],
        stories=deduped["ok"],
        duplicates=duplicates,
        rejected=rejected,
        dead=dead,
        files=files,
        fingerprints=deduped.get("fingerprints"),
    )
