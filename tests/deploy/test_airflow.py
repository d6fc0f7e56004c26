"""The Airflow DAG file: it compiles, calls the operators with arguments they accept, and hands
the job only parameters the pipeline and the Flex Template know.

Airflow and its providers are not installed for CI (a few hundred packages, with pins that clash
with Beam's), so the always-on tests read the DAG file's syntax tree and check it against the
operators' keyword arguments as published in apache-airflow-providers-google (operators/
dataflow.py) and apache-airflow-providers-apache-beam (operators/beam.py), plus BaseOperator's.
``test_dag_imports_with_real_airflow`` (marker ``airflow``) builds the DAGs with Airflow itself
and compares against the real signatures; it runs wherever the providers are installed (it
passed with apache-airflow 3.3.2, providers google 22.8.0 and apache-beam 6.3.1).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import build_arg_parser

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "deploy" / "airflow" / "wirestream_dag.py"
METADATA = REPO / "deploy" / "dataflow" / "metadata.json"

# BaseOperator keyword arguments a DAG may set on any task (Airflow 2.x and 3.x).
BASE_OPERATOR = {
    "task_id", "owner", "email", "email_on_retry", "email_on_failure", "retries",
    "retry_delay", "retry_exponential_backoff", "max_retry_delay", "start_date", "end_date",
    "depends_on_past", "wait_for_downstream", "dag", "params", "default_args", "priority_weight",
    "weight_rule", "queue", "pool", "pool_slots", "sla", "execution_timeout",
    "on_execute_callback", "on_failure_callback", "on_success_callback", "on_retry_callback",
    "trigger_rule", "max_active_tis_per_dag", "executor_config", "do_xcom_push",
    "inlets", "outlets", "task_group", "doc", "doc_md", "doc_rst", "doc_json", "doc_yaml",
}  # fmt: skip

# Keyword arguments of each operator (provider sources, current main branches).
OPERATORS = {
    "DataflowStartFlexTemplateOperator": {
        "required": {"body", "location"},
        "optional": {
            "project_id", "gcp_conn_id", "drain_pipeline", "cancel_timeout",
            "wait_until_finished", "impersonation_chain", "deferrable", "append_job_name",
            "expected_terminal_state", "poll_sleep", "cancel_on_kill",
        },
    },
    "BeamRunPythonPipelineOperator": {
        "required": {"py_file"},
        "optional": {
            "runner", "default_pipeline_options", "pipeline_options", "py_interpreter",
            "py_options", "py_requirements", "py_system_site_packages", "gcp_conn_id",
            "dataflow_config", "deferrable",
        },
    },
}  # fmt: skip

# DataflowConfiguration (dataflow_config=) keyword arguments.
DATAFLOW_CONFIGURATION = {
    "job_name", "append_job_name", "project_id", "location", "gcp_conn_id", "poll_sleep",
    "impersonation_chain", "drain_pipeline", "cancel_timeout", "wait_until_finished",
    "multiple_jobs", "check_if_running", "service_account", "max_num_workers",
}  # fmt: skip

# LaunchFlexTemplateParameter fields (Dataflow REST v1b3).
LAUNCH_PARAMETER = {
    "jobName", "containerSpecGcsPath", "containerSpec", "parameters", "launchOptions",
    "environment", "update", "transformNameMappings",
}  # fmt: skip


def _tree() -> ast.Module:
    return ast.parse(DAG_FILE.read_text(), filename=str(DAG_FILE))


def _constants(tree: ast.Module) -> dict[str, object]:
    """Module-level NAME = <literal or f-string of literals> assignments, evaluated."""
    values: dict[str, object] = {}

    def evaluate(node: ast.AST) -> object:
        if isinstance(node, ast.JoinedStr):
            return "".join(
                str(evaluate(v.value)) if isinstance(v, ast.FormattedValue) else v.value
                for v in node.values
            )
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.Dict):
            out: dict = {}
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    out.update(evaluate(value))
                else:
                    out[evaluate(key)] = evaluate(value)
            return out
        return ast.literal_eval(node)

    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id.isupper():
                try:
                    values[target.id] = evaluate(node.value)
                except (ValueError, KeyError):
                    continue
    values["_evaluate"] = evaluate
    return values


def _operator_calls(tree: ast.Module) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.endswith("Operator")
    ]


def _keyword(call: ast.Call, name: str) -> ast.AST:
    (node,) = [k.value for k in call.keywords if k.arg == name]
    return node


def _pipeline_flags() -> set[str]:
    return {
        s[2:] for a in build_arg_parser()._actions for s in a.option_strings if s.startswith("--")
    }


def test_dag_file_compiles() -> None:
    compile(DAG_FILE.read_text(), str(DAG_FILE), "exec")


def test_operators_are_the_official_ones_and_get_valid_arguments() -> None:
    tree = _tree()
    imported = {
        alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    calls = _operator_calls(tree)
    assert {c.func.id for c in calls} == set(OPERATORS), "the DAG should use both operators"
    assert imported["DataflowStartFlexTemplateOperator"] == (
        "airflow.providers.google.cloud.operators.dataflow"
    )
    assert imported["BeamRunPythonPipelineOperator"] == (
        "airflow.providers.apache.beam.operators.beam"
    )
    for call in calls:
        spec = OPERATORS[call.func.id]
        given = {k.arg for k in call.keywords}
        assert None not in given, f"{call.func.id}: **kwargs hide argument names from review"
        unknown = given - spec["required"] - spec["optional"] - BASE_OPERATOR
        assert not unknown, f"{call.func.id} does not accept {sorted(unknown)}"
        assert spec["required"] <= given, f"{call.func.id} needs {sorted(spec['required'])}"
        assert not call.args, f"{call.func.id}: pass arguments by keyword"


def test_flex_template_parameters_are_template_parameters_and_pass_its_regexes() -> None:
    tree = _tree()
    constants = _constants(tree)
    (call,) = [c for c in _operator_calls(tree) if c.func.id == "DataflowStartFlexTemplateOperator"]
    body = constants["_evaluate"](_keyword(call, "body"))
    launch = body["launchParameter"]
    assert set(launch) <= LAUNCH_PARAMETER, set(launch) - LAUNCH_PARAMETER
    metadata = {p["name"]: p for p in json.loads(METADATA.read_text())["parameters"]}
    parameters = launch["parameters"]
    unknown = set(parameters) - set(metadata)
    assert not unknown, f"not parameters of the Flex Template (metadata.json): {sorted(unknown)}"
    missing = {n for n, p in metadata.items() if not p.get("isOptional")} - set(parameters)
    assert not missing, f"required template parameters not set by the DAG: {sorted(missing)}"
    rendered = {  # what Airflow renders the templated values to for one run
        "{{ var.value.wirestream_bucket }}": "my-bucket",
        "{{ data_interval_start.strftime('%Y-%m-%dT%H') }}": "2026-11-24T10",
    }
    for name, value in parameters.items():
        assert isinstance(value, str), f"{name}: Flex Template parameters are strings"
        for template, example in rendered.items():
            value = value.replace(template, example)
        assert "{{" not in value, f"{name}: add its template to `rendered` in this test"
        assert any(re.fullmatch(r, value) for r in metadata[name]["regexes"]), (
            f"{name}={value!r} fails the template's validation regexes"
        )


def test_beam_operator_passes_only_known_options() -> None:
    tree = _tree()
    constants = _constants(tree)
    (call,) = [c for c in _operator_calls(tree) if c.func.id == "BeamRunPythonPipelineOperator"]
    options = constants["_evaluate"](_keyword(call, "pipeline_options"))
    beam_options = set(PipelineOptions([]).get_all_options())
    unknown = set(options) - _pipeline_flags() - beam_options
    assert not unknown, f"neither pipeline nor Beam options: {sorted(unknown)}"
    config = constants["_evaluate"](_keyword(call, "dataflow_config"))
    assert set(config) <= DATAFLOW_CONFIGURATION, set(config) - DATAFLOW_CONFIGURATION
    assert ast.literal_eval(_keyword(call, "py_options")) == ["-m"]
    assert ast.literal_eval(_keyword(call, "py_file")) == "pipeline"


def test_run_date_comes_from_the_data_interval_not_the_clock() -> None:
    constants = _constants(_tree())
    assert constants["PARAMETERS"]["run_date"] == (
        "{{ data_interval_start.strftime('%Y-%m-%dT%H') }}"
    )
    text = DAG_FILE.read_text()
    assert "datetime.now" not in text and "utcnow" not in text
    assert "max_active_runs=1" in text


@pytest.mark.airflow
def test_dag_imports_with_real_airflow() -> None:
    flex = pytest.importorskip("airflow.providers.google.cloud.operators.dataflow")
    beam_ops = pytest.importorskip("airflow.providers.apache.beam.operators.beam")
    import importlib.util

    spec = importlib.util.spec_from_file_location("wirestream_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # builds both DAGs and their operators, as the scheduler does
    dags = {dag.dag_id: dag for dag in (module.flex_dag, module.beam_dag)}
    assert set(dags) == {"wirestream_hourly_flex", "wirestream_hourly_beam"}
    flex_task = dags["wirestream_hourly_flex"].get_task("ingest")
    beam_task = dags["wirestream_hourly_beam"].get_task("ingest")
    assert isinstance(flex_task, flex.DataflowStartFlexTemplateOperator)
    assert isinstance(beam_task, beam_ops.BeamRunPythonPipelineOperator)
    assert flex_task.body["launchParameter"]["parameters"]["run_date"].startswith("{{")
    assert beam_task.py_options == ["-m"] and beam_task.py_file == "pipeline"
    for cls in (flex.DataflowStartFlexTemplateOperator, beam_ops.BeamRunPythonPipelineOperator):
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}
        spec = OPERATORS[cls.__name__]
        assert spec["required"] | spec["optional"] <= accepted, cls.__name__
