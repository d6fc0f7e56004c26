"""The fetch layer's transport and fan-out, against real servers on 127.0.0.0/8.

Three figures:

* **keep-alive**: one host, ``--pages`` pages (robots.txt included in the requests): TCP
  connections the server accepted, and requests per connection. With one connection per
  request (the former transport) this ratio is 1.0.
* **fan-out**: one host holding most of the pages (``--pages`` on 127.0.0.1, two pages each on
  127.0.0.2 and 127.0.0.3), fetched by ``FetchArticles`` on the DirectRunner with
  ``--workers`` worker processes, followed by a stand-in for extraction that records its worker
  process. Reported: how many workers handled the big host's pages, with the stage as it is
  (``Reshuffle`` after fetching) and with the same steps minus the ``Reshuffle`` (what the runner
  fused before).
* **lines**: line counts of the fetch layer's modules; ``BEFORE`` holds the two modules they
  replaced (``http.py`` and ``stage.py``, measured on the previous layout) and ``after_total``
  the modules that replaced them.

    python -m benchmarks.fetch_transport --pages 20 --workers 2 --json out.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from benchmarks import figures_json
from tests.httpserver import serving
from transforms.core.records import FeedEntry, FetchedPage, stable_hash
from transforms.fetch.http import HttpClient, HttpConfig
from transforms.fetch.stage import FetchArticles, FetchConfig, FetchHostBatchFn, host_key

REPO = Path(__file__).resolve().parents[1]
# transforms/fetch/http.py (1,285) + stage.py (576) before the split and the urllib3 transport
BEFORE = {"transforms/fetch/http.py": 1285, "transforms/fetch/stage.py": 576}
LOCAL = FetchConfig(
    allow_private_networks=True,
    connect_timeout=2.0,
    read_timeout=5.0,
    total_timeout=10.0,
    max_retries=0,
    per_host_rps=1000.0,
)


def keep_alive(pages: int) -> dict:
    with serving() as server:
        client = HttpClient(
            HttpConfig(allow_private_networks=True, max_retries=0), proxies={}
        )  # fmt: skip
        try:
            for n in range(pages):
                client.get(server.url(f"/page/{n}"))
        finally:
            client.close()
        requests = len(server.hits)
        return {
            "pages": pages,
            "requests": requests,
            "connections": server.connections,
            "requests_per_connection": round(requests / max(1, server.connections), 2),
        }


def _entry(url: str) -> FeedEntry:
    return FeedEntry(
        entry_id=stable_hash("bench", url),
        feed_url="http://bench.example/feed",
        feed_name="bench",
        url=url,
        canonical_url=url,
    )


def _worker_of(page: FetchedPage) -> str:
    return f"{os.getpid()}\t{host_key(page.final_url)}"


def fan_out(pages: int, workers: int, reshuffle: bool) -> dict:
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        servers = [stack.enter_context(serving(f"127.0.0.{n}")) for n in (1, 2, 3)]
        urls = [servers[0].url(f"/page/{n}") for n in range(pages)]
        urls += [server.url(f"/page/{n}") for server in servers[1:] for n in range(2)]
        options = PipelineOptions(
            [],
            runner="DirectRunner",
            direct_num_workers=workers,
            direct_running_mode="multi_processing",
        )
        with beam.Pipeline(options=options) as pipeline:
            entries = pipeline | "Entries" >> beam.Create([_entry(u) for u in urls])
            if reshuffle:
                fetched = (entries | "FetchArticles" >> FetchArticles(LOCAL))["ok"]
            else:  # the same steps without the FanOutPages Reshuffle
                fetched = (
                    entries
                    | "KeyByHost" >> beam.Map(lambda e: (host_key(e.url), e))
                    | "GroupByHost" >> beam.GroupByKey()
                    | "FetchPolitely"
                    >> beam.ParDo(FetchHostBatchFn(LOCAL)).with_outputs("dead", main="ok")
                ).ok
            _ = (
                fetched
                | "Extract" >> beam.Map(_worker_of)
                | "Write" >> beam.io.WriteToText(f"{tmp}/workers", shard_name_template="")
            )
        lines = Path(f"{tmp}/workers").read_text().splitlines()
    big = servers[0].host
    per_worker = Counter(line.split("\t")[0] for line in lines if line.endswith(big))
    return {
        "reshuffle": reshuffle,
        "pages": len(lines),
        "big_host_pages": sum(per_worker.values()),
        "workers_extracting_big_host": len(per_worker),
        "big_host_pages_per_worker": sorted(per_worker.values(), reverse=True),
    }


def line_counts() -> dict:
    modules = sorted((REPO / "transforms" / "fetch").rglob("*.py"))
    after = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in modules}
    # what replaced http.py and stage.py: the http/ package, the stage, its config and pacing
    replaced = ("/http/", "/stage.py", "/config.py", "/pacing.py")
    successors = {k: v for k, v in after.items() if any(part in k for part in replaced)}
    return {
        "before": BEFORE,
        "before_total": sum(BEFORE.values()),
        "after": after,
        "after_total": sum(successors.values()),
        "largest_module": max(after.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20, help="pages on the one (big) host")
    parser.add_argument("--workers", type=int, default=2, help="DirectRunner worker processes")
    parser.add_argument("--json", default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    figures = {
        "keep_alive": keep_alive(args.pages),
        "fan_out": [fan_out(args.pages, args.workers, r) for r in (False, True)],
        "lines": line_counts(),
    }
    print(figures_json(figures, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
