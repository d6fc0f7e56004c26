"""Graph assembly: the stages wired in order, with every side output collected.

``build_pipeline`` returns the PCollections it made (``Outputs``) so tests can attach
``assert_that`` to any of them; ``JobConfig.from_options`` does the preflight checks (feed list
readable and valid, option values sane, output and state locations writable: pipeline/preflight.py)
before any worker starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.config import load_feed_list
from pipeline.options import WirestreamOptions, bundled_sample, resolve_run_id
from pipeline.preflight import run_preflight
from transforms import dedup, extract, feeds, fetch, language, tags, write
from transforms.accounting import CollapseSameUrl, ResolveRiders
from transforms.feed_state import CommitFeedState
from transforms.records import FeedSource
from transforms.rerun import RemoveStaleRunFiles


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

    @classmethod
    def from_options(cls, options: PipelineOptions) -> JobConfig:
        opts = options.view_as(WirestreamOptions)
        all_opts = options.get_all_options()
        if opts.feeds is None:
            sample_feeds, sample_archive = bundled_sample()
            opts.feeds = sample_feeds
            if all_opts.get("replay") is None:
                options.view_as(WirestreamOptions).replay = sample_archive
        sources = tuple(load_feed_list(opts.feeds))
        all_opts = options.get_all_options()
        write_config = write.WriteConfig(
            output=all_opts["output"].rstrip("/"),
            run_id=resolve_run_id(opts.run_id, opts.run_date, all_opts.get("replay")),
            file_format=all_opts["file_format"],
            partition_by=write.partition_keys(all_opts["partition_by"]),
            shards=max(1, all_opts["shards"]),
        )
        replay = all_opts.get("replay")
        bundled = replay == bundled_sample()[1]  # package data: installed on every worker too
        run_preflight(
            write_config.output,
            opts.state_location,
            options,
            worker_inputs={"--replay": None if bundled else replay},
        )
        return cls(
            sources=sources,
            feeds=feeds.config_from_options(options),
            fetch=fetch.config_from_options(options),
            extract=extract.config_from_options(options),
            language=language.config_from_options(options),
            tags=tags.config_from_options(options),
            dedup=dedup.config_from_options(options),
            write=write_config,
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


def build_pipeline(p: beam.Pipeline, job: JobConfig) -> Outputs:
    sources = p | "FeedSources" >> beam.Create(list(job.sources))
    read = sources | "ReadFeeds" >> feeds.ReadFeeds(job.feeds)
    collapsed = read["ok"] | "CollapseSameUrl" >> CollapseSameUrl()
    fetched = collapsed["ok"] | "FetchArticles" >> fetch.FetchArticles(job.fetch)
    extracted = fetched["ok"] | "ExtractStories" >> extract.ExtractStories(job.extract)
    detected = extracted["ok"] | "DetectLanguage" >> language.DetectLanguage(job.language)
    tagged = detected["ok"] | "TagStories" >> tags.TagStories(job.tags)
    deduped = tagged["ok"] | "DeduplicateStories" >> dedup.DeduplicateStories(job.dedup)

    dead_before = (
        read["dead"],
        fetched["dead"],
        extracted["dead"],
        detected["dead"],
        tagged["dead"],
        *([deduped["dead"]] if "dead" in deduped else []),
    ) | "FlattenDeadLetters" >> beam.Flatten()
    riders = p | "ResolveRiders" >> ResolveRiders(
        collapsed["riders"],
        deduped["ok"],
        deduped["duplicates"],
        extracted["rejected"],
        dead_before,
    )
    duplicates = (deduped["duplicates"], riders["duplicates"]) | "AllDuplicates" >> beam.Flatten()
    rejected = (extracted["rejected"], riders["rejected"]) | "AllRejected" >> beam.Flatten()
    dead = (dead_before, riders["dead"]) | "AllDeadLetters" >> beam.Flatten()
    files = {
        "stories": deduped["ok"],
        "duplicates": duplicates,
        "rejected": rejected,
        "errors": dead,
    } | "WritePartitioned" >> write.WritePartitioned(job.write)
    if not p.options.view_as(StandardOptions).streaming:
        # A re-run of the same run id must leave only its own files (transforms/rerun.py).
        _ = files | "RemoveStaleRunFiles" >> RemoveStaleRunFiles(job.write)
    if job.feeds.state.enabled:
        # Only once the outputs are written: a run that fails before leaves the previous state
        # in charge, so its entries are emitted again. Transient fetch failures are handed back.
        _ = read["state"] | "CommitFeedState" >> CommitFeedState(
            job.feeds.state, after=files, retry=dead
        )
    return Outputs(
        entries=read["ok"],
        pages=fetched["ok"],
        stories=deduped["ok"],
        duplicates=duplicates,
        rejected=rejected,
        dead=dead,
        files=files,
    )
