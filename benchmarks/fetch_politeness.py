"""Politeness under load: the per-host limit holds while throughput grows with the host count.

Starts one real HTTP server per host on distinct loopback addresses (127.0.0.1, 127.0.0.2, ...),
runs the FetchArticles stage on the DirectRunner over ``--pages`` pages per host with
``--rps`` requests per second per host, and reads the servers' own request logs:

* the smallest gap between two requests to one host (robots.txt included) and the number of
  gaps below the limit (must be 0);
* pages per second over the fetch window (first to last request seen by any server), which
  should grow roughly linearly with the number of hosts, up to ``--fetch_threads``.

    python -m benchmarks.fetch_politeness --hosts 1,2,4,8 --pages 6 --rps 4 --json out.json

Only 127.0.0.0/8 is contacted (``allow_private_networks`` is on for that reason).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from benchmarks import figures_json
from tests.httpserver import serving
from transforms.core.records import FeedEntry, stable_hash
from transforms.fetch.stage import FetchArticles, FetchConfig

BASE = FetchConfig(
    allow_private_networks=True,
    connect_timeout=2.0,
    read_timeout=5.0,
    total_timeout=10.0,
    max_retries=0,
)


def run_once(hosts: int, pages: int, rps: float, threads: int) -> dict:
    interval = 1.0 / rps
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        servers = [stack.enter_context(serving(f"127.0.0.{i + 1}")) for i in range(hosts)]
        entries = [
            FeedEntry(
                entry_id=stable_hash("bench", server.url(f"/page/{n}")),
                feed_url="http://bench.example/feed",
                feed_name="bench",
                url=server.url(f"/page/{n}"),
                canonical_url=server.url(f"/page/{n}"),
            )
            for server in servers
            for n in range(pages)
        ]
        config = replace(BASE, per_host_rps=rps, fetch_threads=threads)
        pipeline = beam.Pipeline(options=PipelineOptions([], runner="DirectRunner"))
        fetched = pipeline | "Entries" >> beam.Create(entries) | "Fetch" >> FetchArticles(config)
        _ = (
            fetched["ok"]
            | "Url" >> beam.Map(lambda page: page.final_url)
            | "Write" >> beam.io.WriteToText(str(Path(tmp) / "ok"), shard_name_template="")
        )
        started = time.monotonic()
        pipeline.run().wait_until_finish()
        wall = time.monotonic() - started
        ok = len((Path(tmp) / "ok").read_text().splitlines())
        gaps: list[float] = []
        all_hits: list[float] = []
        for server in servers:
            times = sorted(hit.at for hit in server.hits)
            all_hits += times
            gaps += [b - a for a, b in itertools.pairwise(times)]
    window = max(all_hits) - min(all_hits) if all_hits else 0.0
    return {
        "hosts": hosts,
        "pages": hosts * pages,
        "fetched_ok": ok,
        "requests": len(all_hits),
        "limit_seconds": round(interval, 4),
        "min_gap_seconds": round(min(gaps), 4) if gaps else None,
        "gaps_below_limit": sum(1 for gap in gaps if gap < interval * 0.99),
        "fetch_window_seconds": round(window, 3),
        "pages_per_second": round(ok / window, 3) if window else None,
        "wall_seconds": round(wall, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="1,2,4,8", help="comma-separated host counts")
    parser.add_argument("--pages", type=int, default=6, help="pages per host")
    parser.add_argument("--rps", type=float, default=4.0, help="requests per second per host")
    parser.add_argument("--fetch_threads", type=int, default=16, help="hosts fetched at once")
    parser.add_argument("--json", default=None, help="write the figures here as JSON")
    args = parser.parse_args(argv)

    rows = [
        run_once(int(h), args.pages, args.rps, args.fetch_threads) for h in args.hosts.split(",")
    ]
    base = rows[0]["pages_per_second"] or 0.0
    print(
        f"{'hosts':>5} {'pages':>5} {'ok':>4} {'min gap s':>9} {'limit s':>7} {'<limit':>6} "
        f"{'window s':>8} {'pages/s':>7} {'x base':>6} {'wall s':>6}"
    )
    for row in rows:
        row["speedup_vs_first"] = round(row["pages_per_second"] / base, 2) if base else None
        print(
            f"{row['hosts']:>5} {row['pages']:>5} {row['fetched_ok']:>4} "
            f"{row['min_gap_seconds']:>9} {row['limit_seconds']:>7} {row['gaps_below_limit']:>6} "
            f"{row['fetch_window_seconds']:>8} {row['pages_per_second']:>7} "
            f"{row['speedup_vs_first']:>6} {row['wall_seconds']:>6}"
        )
    held = all(row["gaps_below_limit"] == 0 for row in rows)
    grows = all(b["pages_per_second"] > a["pages_per_second"] for a, b in itertools.pairwise(rows))
    summary = {
        "per_host_limit_held": held,
        "throughput_grows_with_hosts": grows,
        "rps_per_host": args.rps,
        "pages_per_host": args.pages,
        "runs": rows,
    }
    print(f"per-host limit held: {held}; throughput grows with hosts: {grows}")
    figures_json(summary, args.json)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
