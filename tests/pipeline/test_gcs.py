"""The pipeline on gs:// for real: feeds, replay archive, output and state in a GCS emulator.

Everything goes through Beam's own GCS filesystem (``apache_beam.io.gcp``) against a real
emulator process speaking the GCS JSON API; the objects are read back with google-cloud-storage.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.__main__ import run
from pipeline.preflight import PreflightError, check_writable
from tests.gcs_emulator import anonymous_gcs, gcs_emulator, storage_client

pytestmark = pytest.mark.slow

BUCKET = "wirestream-news"


@pytest.fixture(scope="module")
def bucket(tmp_path_factory, sample_feeds: Path, sample_archive: Path) -> Iterator:
    workdir = tmp_path_factory.mktemp("gcs")
    with gcs_emulator(workdir) as endpoint, anonymous_gcs(endpoint):
        client = storage_client()
        created = client.create_bucket(BUCKET)
        created.blob("config/feeds.yaml").upload_from_filename(str(sample_feeds))
        created.blob("config/sample.warc").upload_from_filename(str(sample_archive))
        for item in sorted((sample_archive.parent / "wire").iterdir()):  # the agency drop
            created.blob(f"config/wire/{item.name}").upload_from_filename(str(item))
        yield created


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "output"
    assert run(["--output", str(out), "--run_id", "gcs"]) == 0
    return out


@pytest.fixture(scope="module")
def gcs_run(bucket, local_run: Path) -> dict[str, bytes]:
    code = run(
        [
            "--feeds",
            f"gs://{BUCKET}/config/feeds.yaml",
            "--replay",
            f"gs://{BUCKET}/config/sample.warc",
            "--wire_input",
            f"gs://{BUCKET}/config/wire",
            "--output",
            f"gs://{BUCKET}/news",
            "--state_location",
            f"gs://{BUCKET}/state",
            "--run_id",
            "gcs",
        ]
    )
    assert code == 0
    return {
        blob.name.removeprefix("news/"): blob.download_as_bytes()
        for blob in bucket.client.list_blobs(BUCKET, prefix="news/")
    }


def test_partitioned_objects_match_a_local_run(gcs_run: dict[str, bytes], local_run: Path) -> None:
    local = {
        str(p.relative_to(local_run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in local_run.rglob("part-*")
    }
    remote = {
        name: hashlib.sha256(data).hexdigest()
        for name, data in gcs_run.items()
        if name.rsplit("/", 1)[-1].startswith("part-")
    }
    assert remote == local
    assert "stories/date=2020-11-07/lang=en/part-gcs-00000-of-00001.jsonl.gz" in remote


def test_no_temporary_or_probe_objects_are_left(gcs_run: dict[str, bytes]) -> None:
    # The writer's temporary folder (.temp-<run_id>-*) is removed once the files are final.
    leftovers = [
        name
        for name in gcs_run
        if not name.rsplit("/", 1)[-1].startswith("part-")
        and name not in ("_run_report.json", "_run_report.html", "_schema.json")
        and name != "_feed_health/gcs.jsonl"
    ]
    assert leftovers == []
    assert {"_run_report.html", "_schema.json"} <= set(gcs_run)  # written through gs:// too


def test_run_report_is_read_back_from_gcs(gcs_run: dict[str, bytes], local_run: Path) -> None:
    report = json.loads(gcs_run["_run_report.json"])
    expected = json.loads((local_run / "_run_report.json").read_text())
    assert report["invariant"]["holds"] is True
    assert report["invariant"] == expected["invariant"]
    assert report["written"] == expected["written"]
    assert report["partitions"] == expected["partitions"]
    assert report["output"] == f"gs://{BUCKET}/news"
    stories = [
        json.loads(line)
        for name, data in gcs_run.items()
        if name.startswith("stories/")
        for line in gzip.decompress(data).splitlines()
    ]
    assert len(stories) == report["written"]["stories"] > 0


def test_missing_output_bucket_fails_fast_with_the_fix(bucket, capsys) -> None:
    code = run(["--output", "gs://no-such-bucket/news", "--run_id", "gcs"])
    assert code == 2
    err = capsys.readouterr().err
    assert "gs://no-such-bucket does not exist" in err
    assert "gcloud storage buckets create gs://no-such-bucket" in err


def test_missing_state_bucket_fails_fast(bucket, tmp_path: Path, capsys) -> None:
    code = run(["--output", str(tmp_path / "o"), "--state_location", "gs://no-state-bucket/state"])
    assert code == 2
    assert "--state_location gs://no-state-bucket/state" in capsys.readouterr().err


def test_unwritable_local_output_fails_fast(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(PreflightError, match="cannot create the folder"):
        check_writable("--output", str(blocker / "output"))


def test_preflight_leaves_nothing_behind(bucket) -> None:
    check_writable("--output", f"gs://{BUCKET}/probe-test")
    assert list(bucket.client.list_blobs(BUCKET, prefix="probe-test")) == []


def test_local_paths_on_dataflow_fail_fast(tmp_path: Path, capsys) -> None:
    """Caught before any Dataflow call: no project, credentials or network needed."""
    code = run(["--runner", "DataflowRunner", "--output", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "--output" in err and "gs://" in err
    code = run(
        [
            "--runner=DataflowRunner",
            "--output=gs://some-bucket/news",
            f"--replay={tmp_path / 'archive.warc'}",
        ]
    )
    assert code == 2
    assert "--replay" in capsys.readouterr().err
