"""No secret reaches any output file, the report or a log line.

A secret is planted everywhere a real deployment leaks one: the feed URL in feeds.yaml
(``?token=``), article links (as the value of every parameter name in the redaction list, and as
``user:password@``), redirect targets, and the URLs quoted in error messages (a 404, a 500 after
a redirect). The whole pipeline runs as ``python -m pipeline`` against a real server on
127.0.0.1; then every file under the output root (decompressed), the report, stdout, stderr
and the state written under ``--state_location`` are searched for the secret.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.news_server import HTML_TYPE, RSS_TYPE, NewsServer, article_html, rss
from transforms.core.redact import SECRET_PARAMS

pytestmark = pytest.mark.slow

SECRET = "Zq9xSeCrEt7Wv"
CLOUD = (
    "X-Goog-Signature",
    "X-Goog-Credential",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "PHPSESSID",
    "JSESSIONID",
)


def _every_name_query() -> str:
    return "&".join(f"{name}={SECRET}" for name in sorted(SECRET_PARAMS) + list(CLOUD))


def _texts(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        found[str(path.relative_to(root))] = data.decode("utf-8", "replace")
    return found


def test_a_planted_secret_is_nowhere(tmp_path: Path) -> None:
    with NewsServer() as site:
        query = _every_name_query()
        host = site.base.split("://", 1)[1]
        items = [
            ("all-names", site.url(f"/p/1?id=1&{query}"), "Every secret name"),
            ("userinfo", f"http://reader:{SECRET}@{host}/p/2", "Credentials in the link"),
            ("redirected", site.url("/r/1"), "Redirected to a signed URL"),
            ("gone", site.url(f"/gone?jwt={SECRET}"), "A 404 whose URL has a jwt"),
            ("broken", site.url("/r/2"), "A redirect to a failing signed URL"),
            ("short", site.url(f"/short?password={SECRET}"), "Too short to keep"),
            ("fragment", site.url(f"/p/4#access_token={SECRET}"), "Token in the fragment"),
        ]
        site.routes[f"/feed.xml?token={SECRET}"] = (200, RSS_TYPE, rss(items))
        # A second feed, itself behind a session id, lists the first article again.
        site.routes[f"/other.xml?sid={SECRET}"] = (200, RSS_TYPE, rss(items[:1]))
        site.routes["/p/1"] = (200, HTML_TYPE, article_html(1, "Every secret name"))
        site.routes["/p/3"] = (200, HTML_TYPE, article_html(3, "Signed"))
        site.routes["/p/4"] = (200, HTML_TYPE, article_html(4, "Fragment"))
        site.routes["/r/1"] = (302, {"Location": f"/p/3?X-Amz-Signature={SECRET}"}, b"")
        site.routes["/r/2"] = (302, {"Location": f"/fail?client_secret={SECRET}"}, b"")
        site.routes["/fail"] = (500, HTML_TYPE, b"server error")
        site.routes["/short"] = (200, HTML_TYPE, b"<html><body><p>Tiny.</p></body></html>")
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            "feeds:\n"
            f"  - url: {site.url(f'/feed.xml?token={SECRET}')}\n    name: Paid feed\n"
            f"  - url: {site.url(f'/other.xml?sid={SECRET}')}\n    name: Session feed\n"
        )
        out = tmp_path / "out"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "--feeds",
                str(feeds),
                "--output",
                str(out),
                "--run_id",
                "secrets",
                "--run_date",
                "2026-11-24T10",
                "--state_location",
                str(tmp_path / "state"),
                "--allow_private_networks",
                "--per_host_rps",
                "1000",
                "--max_retries",
                "0",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        assert site.requests[f"/feed.xml?token={SECRET}"] == 1  # the secret was used to fetch
    assert done.returncode == 0, done.stdout + done.stderr
    texts = _texts(out)
    assert "_run_report.json" in texts and any(name.startswith("errors/") for name in texts)
    # The state kept between runs is written too: feed URLs there are redacted as well.
    texts.update({f"state/{k}": v for k, v in _texts(tmp_path / "state").items()})
    assert any(name.startswith("state/feeds/") for name in texts)
    leaks = [name for name, text in texts.items() if SECRET in text]
    assert not leaks, f"secret in {leaks}"
    assert SECRET not in done.stdout and SECRET not in done.stderr
    # The records are still there, with their URLs recognisable.
    every = "\n".join(texts.values())
    assert "token=REDACTED" in every and "X-Amz-Signature=REDACTED" in every
    assert "client_secret=REDACTED" in every and "jwt=REDACTED" in every
