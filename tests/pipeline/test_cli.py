"""The command line is checked before Beam sees it: unknown flags, bad values, --version, --help,
--check, --log_level. Through the real CLI (subprocesses) where the exit code is the contract."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import (
    CliError,
    DefaultsHelpFormatter,
    LevelPolicy,
    build_parser,
    check_arguments,
    configure_logging,
)

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def problems(*argv: str) -> list[str]:
    with pytest.raises(CliError) as raised:
        check_arguments(list(argv))
    return raised.value.problems


def test_mistyped_flags_stop_the_run_with_exit_2_and_did_you_mean(tmp_path: Path) -> None:
    done = cli("--fromat", "parquet", "--partiton_by=date,agency", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown option --fromat. Fix: did you mean --format?" in done.stderr
    assert "unknown option --partiton_by. Fix: did you mean --partition_by?" in done.stderr
    assert "'parquet'" not in done.stderr  # the typo's value is not reported as a second error
    assert not (tmp_path / "output").exists()  # nothing ran, nothing written


def test_version_prints_versions_and_runs_nothing(tmp_path: Path) -> None:
    import apache_beam
    import trafilatura

    done = cli("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("wirestream ")
    assert f"apache-beam {apache_beam.__version__}" in lines
    assert f"trafilatura {trafilatura.__version__}" in lines
    assert any(line.startswith("python 3.") for line in lines)
    assert not (tmp_path / "output").exists()


def test_beam_options_in_every_form_are_accepted() -> None:
    argv = [
        "--runner=DirectRunner",
        "--direct_num_workers",
        "2",
        "--direct_running_mode",
        "multi_processing",
        "--experiments=a",
        "--experiments",
        "b",
        "--extract_tables",
        "false",
        "--extract_comments",
        "--allow_private_networks",
        "--connect_timeout",
        "2.5",
        "--output=out",
        "--log_level",
        "debug",
    ]
    checked = check_arguments(argv)
    assert checked.log_level == "DEBUG"
    assert "--log_level" not in checked.beam_argv and "debug" not in checked.beam_argv
    assert checked.beam_argv[:3] == ["--runner=DirectRunner", "--direct_num_workers", "2"]
    assert checked.values["extract_tables"] is False
    assert checked.values["connect_timeout"] == 2.5


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--ignore_robots=yes"], "--ignore_robots takes no value"),
        (["--output"], "--output needs a value"),
        (["--output", "--format", "jsonl"], "--output needs a value"),
        (["parquet"], "unexpected argument 'parquet'"),
        (["--runer", "DirectRunner"], "did you mean --runner?"),
        (["--shards", "abc"], "--shards 'abc' is not a whole number"),
        (["--format", "csv"], "invalid choice: 'csv'"),
        (["--shards", "0"], "--shards 0 must be at least 1"),
        (["--language_threshold", "1.5"], "--language_threshold 1.5 is not a ratio"),
        (["--per_host_rps", "0"], "--per_host_rps 0.0 must be above 0"),
        (["--max_retries", "-1"], "--max_retries -1 cannot be negative"),
        (["--read_timeout", "nan"], "is not a finite number"),
        (["--partition_by", "date,agncy"], "unknown key 'agncy'. Fix: did you mean 'agency'?"),
        (["--partition_by", "date,date"], "--partition_by repeats date"),
        (["--partition_by", " , "], "--partition_by is empty"),
        (["--dedup_bands", "50"], "exceeds --dedup_num_perm 128"),
        (["--run_date", "24.11.2026"], "Fix: YYYY-MM-DD or YYYY-MM-DDTHH"),
        (["--retry_reasons", "timeout"], "--retry_reasons without --retry_errors"),
        (["--retry_errors", "e", "--streaming"], "--retry_errors is for batch runs"),
    ],
)
def test_each_bad_argument_is_named_with_its_fix(argv: list[str], message: str) -> None:
    assert any(message in problem for problem in problems(*argv)), problems(*argv)


def test_every_value_problem_is_reported_at_once() -> None:
    found = problems(
        "--shards", "0", "--partition_by", "date,foo", "--dedup_jaccard_threshold", "2"
    )
    assert len(found) == 3


def test_help_states_every_default() -> None:
    parser = build_parser()
    formatter = DefaultsHelpFormatter("prog")
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        text = formatter._get_help_string(action) % {"default": action.default}
        assert "default" in text.lower(), action.option_strings
    rendered = " ".join(parser.format_help().split())
    assert "--max_bytes" in rendered and "(default: 5000000)" in rendered
    assert "(default: output)" in rendered  # --output


def test_log_level_keeps_our_lines_and_beams_warnings_even_from_workers() -> None:
    from apache_beam.portability.api import beam_fn_api_pb2

    def record(name: str, level: int, msg: str = "m", args: tuple = ()) -> logging.LogRecord:
        return logging.LogRecord(name, level, "p.py", 1, msg, args, None)

    policy = LevelPolicy(logging.INFO, logging.WARNING)
    assert policy.filter(record("transforms.progress", logging.INFO))
    assert not policy.filter(record("transforms.progress", logging.DEBUG))
    assert not policy.filter(record("apache_beam.runners", logging.INFO))
    assert policy.filter(record("apache_beam.runners", logging.WARNING))

    def forwarded(location: str) -> logging.LogRecord:
        entry = beam_fn_api_pb2.LogEntry(
            severity=beam_fn_api_pb2.LogEntry.Severity.INFO,
            message="wirestream progress: 3 entries read",
            log_location=location,
        )
        text = str(entry).replace("\n", " ")  # as the multi-process job service logs it
        return record(
            "apache_beam.runners.portability.local_job_service", 20, "Worker: %s", (text,)
        )

    ours = forwarded("/site/transforms/core/progress.py:80")
    assert policy.filter(ours) and ours.getMessage() == "wirestream progress: 3 entries read"
    assert not policy.filter(forwarded("/site/apache_beam/runners/worker/sdk_worker.py:9"))

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    saved_levels = {n: logging.getLogger(n).level for n in ("pipeline", "transforms")}
    try:
        configure_logging("WARNING")
        assert logging.getLogger("transforms").level == logging.WARNING
        assert any(isinstance(f, LevelPolicy) for h in root.handlers for f in h.filters)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved in saved_levels.items():
            logging.getLogger(name).setLevel(saved)


def test_check_runs_the_preflight_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()  # an existing output stays; what the check created goes
    done = cli("--check", "--output", str(tmp_path / "out" / "nested"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "preflight ok: 4 feed(s)" in done.stdout
    assert not (tmp_path / "out" / "nested").exists()  # not even the folders it probed
    assert (tmp_path / "out").is_dir()

    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text("topics:\n  - id: a\n    phrases: [x]\n    exclud: [y]\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: a, kind: lines, pattern: x}\n")
    done = cli(
        "--check",
        "--taxonomy",
        str(taxonomy),
        "--cleaning_rules",
        str(rules),
        "--output",
        str(tmp_path / "out2"),
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "--taxonomy: taxonomy" in done.stderr
    assert "did you mean 'exclude'?" in done.stderr
    assert "--cleaning_rules: cleaning rules" in done.stderr
    assert "did you mean 'line'?" in done.stderr
