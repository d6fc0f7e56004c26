"""Argument checking before Beam sees the command line.

Beam's own parser ignores what it does not know: ``--fromat parquet`` only logs a warning and
the job runs with the default format, and ``--version`` runs the demo. A scheduled job that
silently ignores a flag writes the wrong archive for weeks, so every argument is checked here,
against the project's flags and every option Beam has registered (``PipelineOptions``
subclasses), before anything runs; an unknown one stops the run with exit code 2 and the
closest known flag. Values are checked up front too (partition keys, counts, ratios), each
problem with its fix, all at once.

The launcher's own flags (``--version``, ``--check``, ``--log_level``) are taken out of the
command line here; everything else goes on to ``PipelineOptions`` unchanged.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import math
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.options import build_arg_parser

PROG = "python -m pipeline"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Loggers of the project; everything else (Beam, urllib3, trafilatura, ...) stays at WARNING.
OWN_LOGGERS = ("pipeline", "transforms", "wirestream")

# Value rules for numeric flags. Every other int/float flag must be finite and >= 0.
AT_LEAST_ONE = frozenset(
    {
        "shards",
        "fetch_threads",
        "max_bytes",
        "feed_max_entries",
        "feed_state_max_ids",
        "extract_processes",
        "max_text_chars",
        "dedup_shingle_size",
        "dedup_num_perm",
        "dedup_bands",
        "dedup_rows",
        "dedup_max_bucket_size",
    }
)
POSITIVE = frozenset(
    {
        "connect_timeout",
        "read_timeout",
        "fetch_deadline",
        "per_host_rps",
        "window_minutes",
        "poll_tick_seconds",
        "poll_interval_scale",
    }
)
RATIOS = frozenset(
    {
        "extract_fallback_ratio",
        "language_threshold",
        "language_close_margin",
        "dedup_jaccard_threshold",
        "dedup_containment_threshold",
    }
)
ANY_SIGN = frozenset({"dedup_seed"})
_RUN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2})?$")


class CliError(Exception):
    """The command line cannot run; every problem with its fix. Exit code 2."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def render(self) -> str:
        if len(self.problems) == 1:
            return f"wirestream: {self.problems[0]}\n(see {PROG} --help)"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"wirestream: {len(self.problems)} problems with the arguments:\n{lines}\n" + (
            f"(see {PROG} --help)"
        )


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends each flag's default to its help unless the help already states one.

    Done here, once, so every stage's flags show their defaults without each help text having
    to repeat it (and without drifting from the real default when it changes).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            not action.option_strings
            or action.default is argparse.SUPPRESS
            or "default" in text.lower()
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            return text
        return f"{text} (default: {_default_text(action)})".replace("%", "%%").replace("%%(", "%(")


def _default_text(action: argparse.Action) -> str:
    value = action.default
    if action.nargs == 0 and isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) >= 1 else str(value)
    return str(value)


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line with the fix, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError([_reword(message)])


def _reword(message: str) -> str:
    found = re.match(r"argument (\S+?)(?:/\S+)?: invalid (\w+) value: '(.*)'", message)
    if found:
        flag, kind, value = found.groups()
        wanted = {"int": "a whole number", "float": "a number", "parse_bool": "true or false"}
        return f"{flag} {value!r} is not {wanted.get(kind, 'valid')}. Fix: e.g. {flag} 1"
    return message


def add_launcher_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("launcher (not passed to Beam)")
    group.add_argument(
        "--version",
        action="store_true",
        help="Print the versions of wirestream, Apache Beam, trafilatura and Python, and exit.",
    )
    group.add_argument(
        "--check",
        action="store_true",
        help="Run the preflight only: the arguments, the feed list, the rule files (taxonomy, "
        "agencies, cleaning rules) and the output and state locations; exit 0 when the run "
        "could start, 2 with every problem otherwise. Nothing is written.",
    )
    group.add_argument(
        "--log_level",
        default="INFO",
        type=str.upper,
        choices=LOG_LEVELS,
        help="Level of wirestream's own log lines (progress, warnings). Beam and the libraries "
        "log at WARNING, or at DEBUG too when this is DEBUG.",
    )


LAUNCHER_FLAGS = ("--version", "--check", "--log_level")


def build_parser() -> argparse.ArgumentParser:
    """The ``--help`` parser: every project flag with its default, and the launcher flags."""
    base = build_arg_parser()
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [--feeds FILE] [--output DIR] [--format jsonl|parquet] [options] "
        "[Beam options]",
        description=base.description,
        epilog="Every argument is checked before the run starts, against these flags and Beam's "
        "own options: an unknown flag or a bad value stops it with exit code 2 (nothing written). "
        "Exit codes: 0 ok; 1 crash or accounting mismatch; 2 bad arguments, configuration or "
        "state; 3 ran but too much failed. Workers log a progress line about every 10 s "
        "(WIRESTREAM_PROGRESS_SECONDS). Outputs are described in _schema.json and the run in "
        "_run_report.json and _run_report.html at the output root.",
        formatter_class=DefaultsHelpFormatter,
        allow_abbrev=False,
    )
    add_launcher_arguments(parser)
    from pipeline.options import add_all_arguments

    add_all_arguments(parser)
    return parser


def beam_option_actions() -> dict[str, argparse.Action]:
    """Every option string Beam knows (its own and ours), with the action that takes it."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    import pipeline.options  # noqa: F401  (registers WirestreamOptions)

    parser = _BeamArgumentParser(allow_abbrev=False, add_help=False)
    seen: dict[str, type[PipelineOptions]] = {}
    pending = list(PipelineOptions.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        seen.setdefault(str(cls), cls)  # Beam keeps one class per name, so do we
    for cls in seen.values():
        try:
            cls._add_argparse_args(parser)
        except argparse.ArgumentError:
            continue  # a class re-registering a flag another one owns; Beam skips it too
    return dict(parser._option_string_actions)


@dataclass
class Checked:
    """The command line split: what goes to Beam, and the launcher's own settings."""

    beam_argv: list[str]
    version: bool = False
    check: bool = False
    log_level: str = "INFO"
    values: dict[str, Any] = field(default_factory=dict)  # project flags, typed


def check_arguments(argv: Sequence[str]) -> Checked:
    """Every argument known and every value usable, or CliError with all the problems."""
    launcher = _Parser(add_help=False, allow_abbrev=False)
    add_launcher_arguments(launcher)
    known = {**beam_option_actions(), **launcher._option_string_actions}
    problems = _unknown_arguments(list(argv), known)
    if problems:
        raise CliError(problems)
    own, rest = launcher.parse_known_args(list(argv))
    parser = build_parser()
    values, _ = parser.parse_known_args(list(argv))
    problems = check_values(vars(values), parser)
    if values.retry_errors and any(
        a == "--streaming" or a.startswith("--streaming=") for a in argv
    ):
        problems.append("--retry_errors is for batch runs. Fix: drop --streaming for the retry run")
    if problems:
        raise CliError(problems)
    return Checked(
        beam_argv=rest,
        version=own.version,
        check=own.check,
        log_level=own.log_level,
        values={
            k: v for k, v in vars(values).items() if k not in {"version", "check", "log_level"}
        },
    )


def _unknown_arguments(argv: list[str], known: dict[str, argparse.Action]) -> list[str]:
    problems: list[str] = []
    names = sorted(name for name in known if name.startswith("--"))
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if token == "--":
            break
        if not token.startswith("-") or _is_number(token):
            problems.append(
                f"unexpected argument {token!r}. Fix: flags are --name value or --name=value"
            )
            continue
        name, has_value, _ = token.partition("=")
        action = known.get(name)
        if action is None:
            problems.append(_unknown(name, names))
            # Skip the typo's value too, so it is not reported again as a stray argument.
            if not has_value and index < len(argv) and not argv[index].startswith("-"):
                index += 1
            continue
        takes = action.nargs
        if takes == 0:
            if has_value:
                problems.append(f"{name} takes no value. Fix: write {name} alone")
            continue
        if has_value:
            continue
        following = argv[index] if index < len(argv) else None
        looks_like_flag = following is not None and (
            following.startswith("--") or (following in known and not _is_number(following))
        )
        if takes == "?":
            if following is not None and not looks_like_flag:
                index += 1
            continue
        if takes in ("*", "+"):
            while index < len(argv) and not argv[index].startswith("-"):
                index += 1
            continue
        if following is None or looks_like_flag:
            problems.append(f"{name} needs a value. Fix: {name} VALUE or {name}=VALUE")
            continue
        index += 1
    return problems


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _unknown(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"unknown option {name}. Fix: did you mean {close[0]}?"
    return f"unknown option {name}. Fix: see {PROG} --help for the flags"


def check_values(values: dict[str, Any], parser: argparse.ArgumentParser) -> list[str]:
    """Problems with the project's flag values, each with its fix (empty when all usable)."""
    from transforms.sinks.partitioned import PARTITION_KEYS

    problems: list[str] = []
    flags = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}
    numeric = {
        a.dest for a in parser._actions if a.type in (int, float) and a.dest in values
    } - ANY_SIGN
    for dest in sorted(numeric):
        value = values[dest]
        if value is None:
            continue
        flag = flags[dest]
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{flag} {value} is not a finite number. Fix: give a number")
        elif dest in RATIOS and not 0 <= value <= 1:
            problems.append(f"{flag} {value} is not a ratio. Fix: a value from 0 to 1")
        elif dest in AT_LEAST_ONE and value < 1:
            problems.append(f"{flag} {value} must be at least 1. Fix: {flag} 1 or more")
        elif dest in POSITIVE and value <= 0:
            problems.append(f"{flag} {value} must be above 0. Fix: a positive number")
        elif value < 0:
            problems.append(f"{flag} {value} cannot be negative. Fix: 0 or more")
    keys = [k.strip() for k in str(values.get("partition_by") or "").split(",") if k.strip()]
    if not keys:
        problems.append(f"--partition_by is empty. Fix: one or more of {', '.join(PARTITION_KEYS)}")
    for key in keys:
        if key not in PARTITION_KEYS:
            close = difflib.get_close_matches(key, PARTITION_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                f"--partition_by: unknown key {key!r}. Fix: {hint}"
                f"(keys: {', '.join(PARTITION_KEYS)})"
            )
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        problems.append(f"--partition_by repeats {', '.join(repeated)}. Fix: name each key once")
    bands, rows, perms = (values.get(k) for k in ("dedup_bands", "dedup_rows", "dedup_num_perm"))
    if (
        isinstance(bands, int)
        and isinstance(rows, int)
        and isinstance(perms, int)
        and min(bands, rows, perms) >= 1
        and bands * rows > perms
    ):
        problems.append(
            f"--dedup_bands {bands} x --dedup_rows {rows} = {bands * rows} exceeds "
            f"--dedup_num_perm {perms}. Fix: fewer bands or rows, or more permutations"
        )
    run_date = values.get("run_date")
    if run_date and not _RUN_DATE.match(run_date):
        problems.append(
            f"--run_date {run_date!r} is not a run date. Fix: YYYY-MM-DD or YYYY-MM-DDTHH "
            "(hourly runs), e.g. 2026-11-24T10"
        )
    if values.get("retry_reasons") and not values.get("retry_errors"):
        problems.append(
            "--retry_reasons without --retry_errors. Fix: add --retry_errors OUTPUT/errors"
        )
    return problems


def version_text() -> str:
    from importlib import metadata

    import apache_beam
    import trafilatura

    try:
        ours = metadata.version("wirestream")
    except metadata.PackageNotFoundError:
        ours = "unknown (not installed)"
    return (
        f"wirestream {ours}\n"
        f"apache-beam {apache_beam.__version__}\n"
        f"trafilatura {trafilatura.__version__}\n"
        f"python {platform.python_version()}"
    )


def versions() -> dict[str, str]:
    """The same versions as a mapping, for the run report."""
    return dict(line.split(" ", 1) for line in version_text().splitlines())


def configure_logging(level: str) -> None:
    """wirestream's lines at ``level``; Beam and libraries at WARNING unless DEBUG is asked.

    The policy is a filter on the console handler rather than logger levels alone, because the
    multi-process DirectRunner forwards its workers' records to the launcher's *root* logger as
    Beam ``LogEntry`` text: the filter recognises those, keeps the ones from wirestream's code
    (the progress lines) as plain one-line messages, and drops the workers' Beam chatter.
    """
    numeric = getattr(logging, level)
    others = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    logging.basicConfig(
        level=min(numeric, others),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(numeric)
    for handler in logging.getLogger().handlers:
        handler.addFilter(LevelPolicy(numeric, others))
    from transforms.core.redact import install_log_redaction

    install_log_redaction()  # no credential in any log line (transforms/core/redact.py)


class LevelPolicy(logging.Filter):
    """Own records at one level, everyone else's at another; forwarded worker records unwrapped."""

    def __init__(self, own: int, others: int) -> None:
        super().__init__()
        self.own = own
        self.others = others

    def filter(self, record: logging.LogRecord) -> bool:
        text = None
        if record.name == "root" and str(record.msg).startswith("severity:"):
            text = str(record.msg)  # FnApiRunner's logging service
        elif record.msg == "Worker: %s" and isinstance(record.args, tuple) and record.args:
            text = str(record.args[0])  # the multi-process DirectRunner's job service
        if text is not None:
            forwarded = _forwarded(text)
            if forwarded is not None:
                message, location = forwarded
                own = any(f"/{package}/" in location for package in ("transforms", "pipeline"))
                record.msg, record.args, record.name = message, (), "worker"
                return record.levelno >= (self.own if own else self.others)
        own = record.name.split(".")[0] in OWN_LOGGERS
        return record.levelno >= (self.own if own else self.others)


def _forwarded(text: str) -> tuple[str, str] | None:
    """(message, code location) of a worker's LogEntry as the runner logs it, else None."""
    try:
        from apache_beam.portability.api import beam_fn_api_pb2
        from google.protobuf import text_format

        entry = text_format.Parse(text, beam_fn_api_pb2.LogEntry())
    except Exception:  # not a LogEntry after all
        return None
    return entry.message, entry.log_location
