"""The Dataflow Flex Template and worker packaging: what ships, and what the template accepts.

A Flex Template launcher accepts only the parameters named in metadata.json, so a flag added to
the pipeline but not to metadata.json cannot be set on Dataflow; one left in metadata.json after
the flag is gone fails every launch. Both directions are checked from ``build_arg_parser()``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pipeline.options import build_arg_parser

REPO = Path(__file__).resolve().parents[2]
DATAFLOW = REPO / "deploy" / "dataflow"

# Flags deliberately kept out of the template, each with the reason. Keep this list short.
NOT_IN_TEMPLATE = {
    "allow_private_networks": "local testing only (lets feeds point the job at internal "
    "addresses); a store_true flag, which a template cannot pass as --name=value anyway",
    "ignore_robots": "politeness must not be switchable from a production template; also a "
    "store_true flag",
}


def _metadata() -> dict:
    return json.loads((DATAFLOW / "metadata.json").read_text())


def _pipeline_flags() -> dict[str, object]:
    """Every long flag of the job (``--format``, not its dest ``file_format``) -> its action."""
    flags = {}
    for action in build_arg_parser()._actions:
        long_names = [s[2:] for s in action.option_strings if s.startswith("--")]
        if action.dest != "help" and long_names:
            flags[long_names[0]] = action
    return flags


def _setup_beam_version() -> str:
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "BEAM_VERSION" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py defines no BEAM_VERSION")


def test_every_pipeline_option_is_a_template_parameter_and_vice_versa() -> None:
    flags = set(_pipeline_flags())
    params = [p["name"] for p in _metadata()["parameters"]]
    assert len(params) == len(set(params)), "metadata.json names a parameter twice"
    missing = sorted(flags - set(params) - set(NOT_IN_TEMPLATE))
    unknown = sorted(set(params) - flags)
    stale_exclusions = sorted(set(NOT_IN_TEMPLATE) - flags)
    problems = []
    if missing:
        problems.append(
            "pipeline options missing from deploy/dataflow/metadata.json (add each with a "
            f"label, helpText and regexes, or list it in NOT_IN_TEMPLATE with a reason): "
            f"{', '.join('--' + m for m in missing)}"
        )
    if unknown:
        problems.append(
            "metadata.json names parameters the pipeline does not accept (remove them): "
            f"{', '.join(unknown)}"
        )
    if stale_exclusions:
        problems.append(f"NOT_IN_TEMPLATE names options that no longer exist: {stale_exclusions}")
    assert not problems, "\n".join(problems)


def test_every_parameter_has_help_and_regexes_that_accept_its_default() -> None:
    flags = _pipeline_flags()
    for param in _metadata()["parameters"]:
        name = param["name"]
        assert param.get("label"), f"{name}: no label"
        assert len(param.get("helpText", "")) >= 20, f"{name}: helpText too short"
        assert param.get("regexes"), f"{name}: no validation regexes"
        patterns = [re.compile(r) for r in param["regexes"]]
        default = flags[name].default if name in flags else None
        if default is not None and param.get("isOptional", False):
            assert any(p.fullmatch(str(default)) for p in patterns), (
                f"{name}: the pipeline default {default!r} fails the template regexes"
            )
        assert name not in flags or flags[name].nargs != 0, (
            f"{name}: a flag without a value (store_true) cannot be a template parameter"
        )


def test_template_regexes_accept_real_values_and_refuse_bad_ones() -> None:
    regexes = {p["name"]: [re.compile(r) for r in p["regexes"]] for p in _metadata()["parameters"]}

    def ok(name: str, value: str) -> bool:
        return any(r.fullmatch(value) for r in regexes[name])

    assert ok("output", "gs://my-bucket/news") and not ok("output", "/local/folder")
    assert ok("run_date", "2026-11-24") and ok("run_date", "2026-11-24T10")
    assert not ok("run_date", "2026-13-24") and not ok("run_date", "24/11/2026")
    assert ok("partition_by", "date,lang,topic") and not ok("partition_by", "date,colour")
    assert ok("format", "parquet") and not ok("format", "csv")
    assert ok("language_threshold", "0.75") and not ok("language_threshold", "1.5")


def test_dockerfile_pins_the_setup_py_beam_version_and_copies_what_exists() -> None:
    dockerfile = (DATAFLOW / "Dockerfile").read_text()
    pinned = re.search(r"^ARG BEAM_VERSION=(\S+)$", dockerfile, re.MULTILINE)
    assert pinned, "Dockerfile has no ARG BEAM_VERSION"
    assert pinned.group(1) == _setup_beam_version(), (
        f"Dockerfile pins Beam {pinned.group(1)} but setup.py pins {_setup_beam_version()}: "
        "the launcher and the workers would run different SDKs"
    )
    assert re.search(
        r"^FROM apache/beam_python\$\{PYTHON_VERSION\}_sdk:\$\{BEAM_VERSION\}$",
        dockerfile,
        re.MULTILINE,
    )
    python = re.search(r"^ARG PYTHON_VERSION=(\S+)$", dockerfile, re.MULTILINE).group(1)
    assert f"python{python.replace('.', '')}-template-launcher-base" in dockerfile
    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.MULTILINE):
        *sources, _ = line.split()
        for source in sources:
            assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"
    for variable in ("FLEX_TEMPLATE_PYTHON_PY_FILE", "FLEX_TEMPLATE_PYTHON_SETUP_FILE"):
        assert f"ENV {variable}=" in dockerfile
    ast.parse((DATAFLOW / "main.py").read_text())


def _sdist(tmp_path: Path) -> Path:
    """``setup.py sdist``: the command Beam's stager runs for --setup_file without `build`."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(dist)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (archive,) = dist.glob("wirestream-*.tar.gz")
    return archive


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sdist_installs_into_a_fresh_virtualenv_and_runs_the_sample(tmp_path: Path) -> None:
    """What a Dataflow worker does with --setup_file: install the sdist, import, run.

    The fresh virtualenv gets the package from the sdist only; its third-party dependencies are
    borrowed read-only from this interpreter's site-packages (a path entry, so no network) and
    ``pip check`` proves the sdist's declared requirements are all satisfied by them.
    """
    assert (REPO / "MANIFEST.in").is_file()
    archive = _sdist(tmp_path)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    root = names[0].split("/")[0]
    for shipped in ("transforms/data/sample/sample.warc", "transforms/data/sample/feeds.yaml"):
        assert f"{root}/{shipped}" in names, f"the sdist does not ship {shipped}"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    borrowed = [p for p in sys.path if p.endswith("site-packages")]
    (Path(site) / "borrowed-dependencies.pth").write_text("\n".join(borrowed) + "\n")
    workdir = tmp_path / "elsewhere"  # not the repository: imports must come from the install
    workdir.mkdir()

    def fresh(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(python), *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)},
        )

    install = fresh(
        "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", str(archive)
    )
    assert install.returncode == 0, install.stderr[-3000:]
    check = fresh("-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr

    where = fresh(
        "-c", "import pipeline, transforms; print(pipeline.__file__, transforms.__file__)"
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.count(site) == 2, f"not imported from the install: {where.stdout}"

    helped = fresh("-m", "pipeline", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--run_date" in helped.stdout and "--output" in helped.stdout
    script = subprocess.run(
        [str(venv / "bin" / "wirestream"), "--help"], capture_output=True, text=True
    )
    assert script.returncode == 0 and "--feeds" in script.stdout

    # What the Flex Template launcher runs (FLEX_TEMPLATE_PYTHON_PY_FILE), against the install.
    launcher = workdir / "main.py"
    launcher.write_text((DATAFLOW / "main.py").read_text())
    launched = fresh(str(launcher), "--output", "launched", "--run_id", "template")
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert "submitted run template" in launched.stdout
    assert list((workdir / "launched" / "stories").rglob("part-template-*.jsonl.gz"))

    sample = fresh("-m", "pipeline", "--output", "out")
    assert sample.returncode == 0, sample.stdout[-2000:] + sample.stderr[-3000:]
    report = json.loads((workdir / "out" / "_run_report.json").read_text())
    assert report["invariant"]["holds"] is True
    assert report["written"]["stories"] >= 5


def test_launch_fails_fast_like_run(tmp_path: Path, capsys) -> None:
    from pipeline.__main__ import launch

    blocker = tmp_path / "file"
    blocker.write_text("")
    assert launch(["--output", str(blocker / "out")]) == 2
    assert "--output" in capsys.readouterr().err
