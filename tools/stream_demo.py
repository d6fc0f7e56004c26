"""``make stream-demo``: a bounded streaming run against a local feed server, then its summary.

Starts ``tools/stream_feed_server.py`` on 127.0.0.1 (feeds that publish the bundled sample's
stories over time, including a spun copy, a reworded near-duplicate and an already-listed article
in later windows), runs ``python -m pipeline --streaming`` on the DirectRunner against it until
the poll clock stops, and prints the run summary with its per-window counts and duplicates by
reason (``near_duplicate`` is the rewrite). Nothing leaves the machine.

    python tools/stream_demo.py [--output DIR] [--seconds N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.__main__ import run
from tools.stream_feed_server import StreamFeedServer

# The schedule's last wave (40 s) at 32 s, so a 40 s run sees it. Polling longer costs more
# than its share: the DirectRunner's FnApiRunner merges the counters of every bundle of the
# poll clock at the end, in time that grows with the square of the run's length.
SPEED = 1.25


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="output-stream", help="output root (replaced)")
    parser.add_argument("--seconds", type=float, default=40, help="how long to poll")
    args = parser.parse_args()
    # The demo's own folder: replaced, so the report counts this run's files only.
    shutil.rmtree(args.output, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp, StreamFeedServer(speed=SPEED) as server:
        feeds = server.write_feed_list(Path(tmp) / "feeds.yaml")
        print(f"feed server on {server.base}; polling for {args.seconds:.0f} s ...", flush=True)
        code = run(
            [
                "--streaming",
                "--feeds",
                str(feeds),
                "--output",
                args.output,
                "--run_id",
                "stream-demo",
                "--allow_private_networks",
                "--poll_tick_seconds",
                "1",
                "--poll_interval_scale",
                "0.05",
                "--poll_backoff_max_minutes",
                "0.1",
                "--window_minutes",
                "0.25",
                "--allowed_lateness_minutes",
                "1",
                "--stream_duration_seconds",
                str(args.seconds),
            ]
        )
        feeds_polled = sum(n for path, n in server.requests.items() if path.startswith("/feeds/"))
        print(
            f"feed server: {feeds_polled} feed requests, {sum(server.conditional.values())} "
            f"conditional, {sum(server.not_modified.values())} answered 304"
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
