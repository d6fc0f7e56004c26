"""The fetch stage's settings and flags: one frozen ``FetchConfig`` (recorded with the run), the
``--`` flags that fill it, and the preflight checks whose messages say how to fix them.

Feed reading builds its fetches from the same config, so feeds and pages share one client
configuration, replay and capture.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.fetch.http import DEFAULT_USER_AGENT, HttpConfig


@dataclass(frozen=True)
class FetchConfig:
    """Everything the fetch stage (and feed fetching) needs; recorded with the run."""

    replay: str | None = None
    capture_warc: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    max_retries: int = 2
    backoff_base: float = 1.0
    max_retry_after: float = 60.0
    allow_private_networks: bool = False
    allowed_networks: tuple[str, ...] = ()  # CIDRs the SSRF guard lets through (not metadata)
    host_max_timeouts: int = 3
    respect_robots: bool = True
    max_crawl_delay: float = 60.0
    per_host_rps: float = 1.0
    fetch_threads: int = 16
    stream_window_secs: float = 60.0  # streaming, globally windowed input: host groups per window

    def __post_init__(self) -> None:
        if self.per_host_rps <= 0:
            raise ValueError("--per_host_rps must be positive (requests per second per host)")
        if self.fetch_threads < 1:
            raise ValueError("--fetch_threads must be at least 1")
        if self.replay and self.capture_warc:
            raise ValueError("--capture_warc records live fetches; it cannot be used with --replay")
        self.http_config()  # validates the HTTP knobs (user agent contact, timeouts) early

    @property
    def min_interval(self) -> float:
        return 1.0 / self.per_host_rps

    def http_config(self) -> HttpConfig:
        return HttpConfig(
            user_agent=self.user_agent,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            max_retry_after=self.max_retry_after,
            allow_private_networks=self.allow_private_networks,
            allowed_networks=self.allowed_networks,
            host_max_timeouts=self.host_max_timeouts,
            respect_robots=self.respect_robots,
            max_crawl_delay=self.max_crawl_delay,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fetching")
    default = FetchConfig()
    group.add_argument(
        "--replay",
        default=None,
        help="Serve every fetch (feeds and pages) from WARC files instead of the network: a "
        "file, a folder (searched recursively) or a glob, local or gs://; fetched_at comes "
        "from the archive, so runs repeat exactly. URLs not in it are dead letters "
        "(not_in_archive).",
    )
    group.add_argument(
        "--capture_warc",
        default=None,
        help="Folder (local or gs://) to write every raw response of this run to, as WARC files "
        "(one per worker bundle), for later --replay.",
    )
    group.add_argument(
        "--http_user_agent",  # Beam itself owns --user_agent
        default=default.user_agent,
        help="User-Agent sent with every request; must carry a contact URL ('+https://...') or "
        "an e-mail address. Also used to match robots.txt rules.",
    )
    group.add_argument(
        "--allow_private_networks",
        action="store_true",
        help="Allow fetching from loopback and private addresses (local testing only; off by "
        "default so feeds cannot point the job at internal services). Cloud metadata "
        "endpoints stay blocked regardless.",
    )
    group.add_argument(
        "--allowed_networks",
        default="",
        help="Comma-separated CIDR ranges the SSRF guard lets through (e.g. 127.0.0.0/8 for a "
        "local test server, or one internal news host), while every other private, loopback "
        "and metadata address, also behind a redirect, stays blocked.",
    )
    group.add_argument(
        "--host_max_timeouts",
        type=int,
        default=default.host_max_timeouts,
        help="Timed-out requests in a row after which a host is given up for 5 minutes: its "
        "remaining pages are dead letters (host_unresponsive) without a request, instead of "
        "each waiting out its own timeouts and retries.",
    )
    group.add_argument(
        "--max_bytes",
        type=int,
        default=default.max_bytes,
        help="Largest response body accepted, in bytes, both as received and after gzip/deflate/br "
        "decoding; larger ones are dead letters (too_large).",
    )
    group.add_argument(
        "--connect_timeout",
        type=float,
        default=default.connect_timeout,
        help="Seconds to wait for DNS and the TCP/TLS connection.",
    )
    group.add_argument(
        "--read_timeout",
        type=float,
        default=default.read_timeout,
        help="Seconds to wait for any single read from the server.",
    )
    group.add_argument(
        "--fetch_deadline",
        type=float,
        default=default.total_timeout,
        help="Total seconds one request may take (a slow trickle cannot exceed it).",
    )
    group.add_argument(
        "--max_redirects",
        type=int,
        default=default.max_redirects,
        help="Redirects followed per fetch, HTTP redirects and quick <meta http-equiv=refresh> "
        "hops together; more are dead letters (too_many_redirects).",
    )
    group.add_argument(
        "--max_retries",
        type=int,
        default=default.max_retries,
        help="Retries for transient failures (timeouts, resets, cut bodies, 408/429, 5xx), with "
        "exponential backoff and jitter; Retry-After is honoured up to --max_retry_after.",
    )
    group.add_argument(
        "--max_retry_after",
        type=float,
        default=default.max_retry_after,
        help="Longest Retry-After (seconds) worth waiting for; longer ones fail the fetch.",
    )
    group.add_argument(
        "--per_host_rps",
        type=float,
        default=default.per_host_rps,
        help="Requests per second allowed to any one host (robots.txt crawl-delay can only "
        "lower it).",
    )
    group.add_argument(
        "--max_crawl_delay",
        type=float,
        default=default.max_crawl_delay,
        help="A robots.txt crawl-delay above this many seconds makes the host's pages dead "
        "letters (robots_disallowed) instead of stalling the job.",
    )
    group.add_argument(
        "--ignore_robots",
        action="store_true",
        help="Do not fetch or honour robots.txt (only for sites you operate).",
    )
    group.add_argument(
        "--fetch_threads",
        type=int,
        default=default.fetch_threads,
        help="Hosts fetched concurrently per worker process.",
    )


class FetchOptions(PipelineOptions):
    """The fetching flags, typed: ``options.view_as(FetchOptions)``."""

    replay: str | None
    capture_warc: str | None
    http_user_agent: str
    allow_private_networks: bool
    allowed_networks: str
    host_max_timeouts: int
    max_bytes: int
    connect_timeout: float
    read_timeout: float
    fetch_deadline: float
    max_redirects: int
    max_retries: int
    max_retry_after: float
    per_host_rps: float
    max_crawl_delay: float
    ignore_robots: bool
    fetch_threads: int

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(options: PipelineOptions, replay: str | None = None) -> FetchConfig:
    """Read the flags back, with preflight checks whose messages say how to fix them.

    ``replay``: the archive the job resolved when ``--replay`` is not given (the bundled sample).
    """
    view = options.view_as(FetchOptions)
    config = FetchConfig(
        replay=view.replay or replay,
        capture_warc=view.capture_warc,
        user_agent=view.http_user_agent,
        connect_timeout=view.connect_timeout,
        read_timeout=view.read_timeout,
        total_timeout=view.fetch_deadline,
        max_bytes=view.max_bytes,
        max_redirects=view.max_redirects,
        max_retries=view.max_retries,
        max_retry_after=view.max_retry_after,
        allow_private_networks=view.allow_private_networks,
        allowed_networks=_networks(view.allowed_networks),
        host_max_timeouts=view.host_max_timeouts,
        respect_robots=not view.ignore_robots,
        max_crawl_delay=view.max_crawl_delay,
        per_host_rps=view.per_host_rps,
        fetch_threads=view.fetch_threads,
    )
    if config.replay:
        from transforms.fetch.warc import find_warc_files

        if not find_warc_files(config.replay):
            raise ValueError(
                f"--replay {config.replay}: no .warc or .warc.gz file there; pass a WARC file, a "
                "folder of them or a glob"
            )
    return config


def _networks(value: str | None) -> tuple[str, ...]:
    """``--allowed_networks`` as CIDRs; a malformed one stops the run before any output."""
    import ipaddress

    networks = tuple(part.strip() for part in (value or "").split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(
                f"--allowed_networks: {network!r} is not a CIDR range (e.g. 127.0.0.0/8)"
            ) from None
    return networks
