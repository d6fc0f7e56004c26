"""Preflight checks: fail before the graph is built, with the fix in the message.

A Dataflow job that cannot write its output finds out only after workers have started and every
page has been fetched and extracted, then fails in the last step (or, for a local rename into a
missing folder, loses the files silently). Checking up front costs one small write: the output
and state locations must exist (for ``gs://``, the bucket) and accept a new object, which is
deleted again at once.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

LOG = logging.getLogger(__name__)


class PreflightError(ValueError):
    """The job cannot run as configured; the message says what is wrong and how to fix it."""


def split_gcs(path: str) -> tuple[str, str]:
    """``gs://bucket/a/b`` -> (``bucket``, ``a/b``)."""
    bucket, _, prefix = path[len("gs://") :].partition("/")
    return bucket, prefix


def _check_bucket(flag: str, path: str, options: PipelineOptions | None) -> None:
    from apache_beam.io.gcp.gcsio import GcsIO

    bucket, _ = split_gcs(path)
    if not bucket:
        raise PreflightError(f"{flag} {path!r} names no bucket; use gs://BUCKET/PREFIX")
    try:
        found = GcsIO(pipeline_options=options).get_bucket(bucket)
    except Exception as err:  # Forbidden, bad credentials, unreachable endpoint
        raise PreflightError(
            f"{flag} {path}: cannot look up bucket gs://{bucket} ({type(err).__name__}: {err}). "
            "Check the credentials the job runs with (gcloud auth application-default login, "
            "or the worker service account) and that they may read the bucket's metadata "
            "(roles/storage.objectAdmin, or roles/storage.legacyBucketReader)."
        ) from err
    if found is None:
        raise PreflightError(
            f"{flag} {path}: bucket gs://{bucket} does not exist. Create it first, e.g. "
            f"`gcloud storage buckets create gs://{bucket} --location=REGION` (the same region "
            f"as the job), or point {flag} at an existing bucket."
        )


# Local folders the preflight created, outermost first: a run stopped by a later check (exit 2)
# or a ``--check`` removes them again, so a refused run leaves nothing behind.
CREATED: list[str] = []


def missing_folders(root: str) -> list[str]:
    missing = []
    folder = os.path.abspath(root)
    while folder and not os.path.lexists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing[::-1]


def remove_created() -> None:
    """Remove the folders the preflight created that are still empty (innermost first); the
    others stay listed, so a later call (once the run lock's file is gone) can try again."""
    kept = []
    for folder in reversed(CREATED):
        try:
            os.rmdir(folder)
        except OSError:  # not empty (something else wrote there) or already gone
            if os.path.isdir(folder):
                kept.append(folder)
    CREATED[:] = kept[::-1]


def check_writable(flag: str, path: str, options: PipelineOptions | None = None) -> None:
    """Raise PreflightError unless a new object/file can be created (and removed) under path."""
    root = path.rstrip("/")
    remote = root.startswith("gs://")
    if remote:
        _check_bucket(flag, root, options)
    else:
        if os.path.lexists(root) and not os.path.isdir(root):
            raise PreflightError(
                f"{flag} {path} is a file where a folder must be. Fix: move that file away "
                f"or point {flag} at a folder (the run creates it when missing)"
            )
        missing = missing_folders(root)
        try:
            FileSystems.mkdirs(root)
            CREATED.extend(missing)
        except OSError as err:
            if not FileSystems.exists(root):
                raise PreflightError(
                    f"{flag} {path}: cannot create the folder ({err}). Choose a folder you can "
                    "write to, or create it first."
                ) from err
    probe = FileSystems.join(root, f"_preflight-{uuid.uuid4().hex}.tmp")
    try:
        with FileSystems.create(probe) as handle:
            handle.write(b"wirestream preflight\n")
    except Exception as err:
        fix = (
            "Grant the account the job runs as roles/storage.objectAdmin (or objectCreator "
            "plus objectViewer) on the bucket."
            if remote
            else "Fix the folder's permissions or choose another folder."
        )
        raise PreflightError(
            f"{flag} {path} is not writable ({type(err).__name__}: {err}). {fix}"
        ) from err
    try:
        FileSystems.delete([probe])
    except Exception as err:  # writable but not deletable: re-runs could not replace files
        raise PreflightError(
            f"{flag} {path}: a test object could be written but not deleted ({err}); re-runs "
            "replace their own files, so the job needs delete permission too "
            "(roles/storage.objectAdmin)."
        ) from err


# Runners whose workers run on other machines: a local path there is each worker's own disk.
REMOTE_RUNNERS = ("dataflowrunner", "dataflow")


def check_remote_paths(runner: str | None, paths: dict[str, str | None]) -> None:
    """On Dataflow, outputs and worker-read inputs must be on GCS, not on the launcher's disk."""
    if (runner or "").lower() not in REMOTE_RUNNERS:
        return
    for flag, path in paths.items():
        if path and not path.startswith("gs://"):
            raise PreflightError(
                f"{flag} {path}: on {runner} the workers run on other machines, so a local path "
                f"would be each worker's own disk. Use a gs:// location, e.g. "
                f"{flag} gs://BUCKET/{flag.lstrip('-')}."
            )


def run_preflight(
    output: str,
    state_location: str | None,
    options: PipelineOptions | None = None,
    worker_inputs: dict[str, str | None] | None = None,
    worker_outputs: dict[str, str | None] | None = None,
) -> None:
    """Every location the job writes to, checked before any worker starts.

    ``worker_inputs`` are paths the workers read (``--replay``), ``worker_outputs`` other
    folders they write (``--capture_warc``); on Dataflow both must be on GCS.
    """
    written = {k: v for k, v in (worker_outputs or {}).items() if v}
    if options is not None:
        from apache_beam.options.pipeline_options import StandardOptions

        runner = options.view_as(StandardOptions).runner
        runner_name = runner if isinstance(runner, str) or runner is None else type(runner).__name__
        check_remote_paths(
            runner_name,
            {
                "--output": output,
                "--state_location": state_location,
                **(worker_inputs or {}),
                **written,
            },
        )
    check_writable("--output", output, options)
    if state_location:
        check_writable("--state_location", state_location, options)
    for flag, path in written.items():  # a capture folder that is a file failed mid-run
        check_writable(flag, path, options)


def check_rule_files(
    taxonomy: str | None, agencies: str | None, cleaning_rules: str | None
) -> None:
    """The rule files the workers will load (taxonomy, agencies, cleaning rules), validated now.

    A malformed user file would otherwise fail on every worker after the feeds were read and
    the pages fetched; the bundled files are checked too, so a broken install fails here.
    """
    from transforms.core.rulefiles import RuleFileError
    from transforms.extract.cleaning import load_rules
    from transforms.tags.agencies import load_agencies
    from transforms.tags.topics import load_taxonomy

    problems: list[str] = []
    loaders: tuple[tuple[str, Callable[[str | None], object], str | None], ...] = (
        ("--taxonomy", load_taxonomy, taxonomy),
        ("--agencies", load_agencies, agencies),
        ("--cleaning_rules", load_rules, cleaning_rules),
    )
    for flag, loader, path in loaders:
        try:
            loader(path)
        except RuleFileError as err:
            problems.append(f"{flag}: {err}")
        except Exception as err:  # unreadable file, YAML syntax, unsafe pattern
            problems.append(f"{flag} {path or '(bundled)'}: {err}")
    if problems:
        raise PreflightError("\n".join(problems))
