"""Airflow DAGs for scheduled wirestream runs: one hourly run per data interval, backfillable.

Two ways to run the same job, with the same parameters:

* ``wirestream_hourly_flex``: launches the Flex Template (deploy/dataflow/) with the Google
  provider's ``DataflowStartFlexTemplateOperator``. Production: nothing but the template spec
  path is needed on the Airflow side.
* ``wirestream_hourly_beam``: runs ``python -m pipeline`` with the Apache Beam provider's
  ``BeamRunPythonPipelineOperator``, on the runner named by the ``wirestream_runner`` Airflow
  Variable (``DirectRunner`` on the Airflow worker for small feed lists, ``DataflowRunner`` to
  submit from the worker with ``--setup_file``). The wirestream package must be installed where
  the task runs. This path also writes ``_run_report.json`` and fails the task when the
  nothing-lost accounting does not hold.

``--run_date`` is the start of the data interval (``YYYY-MM-DDTHH``), never the wall clock, so a
retry, a cleared task or a backfill of the same interval replaces that run's files instead of
adding a second copy (see deploy/README.md). ``max_active_runs=1`` keeps runs in order, because
state in ``--state_location`` (feed state, dedup fingerprints) carries from one run to the next.

Exit codes of ``python -m pipeline`` (the Beam-operator DAG; the task fails on any non-zero):

* 0: ok, the accounting holds and the failure gates passed.
* 1: crash, or the nothing-lost accounting does not hold: look at the report's ``problems``.
  A retry re-runs the same ``--run_date`` and replaces that run's files.
* 2: bad configuration or damaged state, found before any output was written (the message names
  the file and the fix). Retrying cannot help: fix the feed list or flags, or restore the state
  file, or re-run once with ``--state_repair quarantine``.
* 3: the run wrote everything and its report, but more feeds failed than
  ``--max_feed_failure_ratio`` allows (or more entries became dead letters than
  ``--max_dead_letter_ratio``): an outage, not a green run. The report's ``feeds`` table names
  the failing feeds; a retry after the outage re-runs the interval and replaces its files.

Settings come from Airflow Variables so the file needs no edits per environment:
``wirestream_project``, ``wirestream_region``, ``wirestream_bucket`` (no ``gs://``),
``wirestream_template`` (gs:// path of the built template spec), ``wirestream_runner``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

PROJECT = "{{ var.value.wirestream_project }}"
REGION = "{{ var.value.get('wirestream_region', 'europe-west1') }}"
BUCKET = "{{ var.value.wirestream_bucket }}"
RUN_DATE = "{{ data_interval_start.strftime('%Y-%m-%dT%H') }}"

# The job's own parameters: names as in `python -m pipeline --help` and metadata.json.
PARAMETERS = {
    "feeds": f"gs://{BUCKET}/config/feeds.yaml",
    "output": f"gs://{BUCKET}/news",
    "state_location": f"gs://{BUCKET}/state",
    "run_date": RUN_DATE,
    "format": "parquet",
    "partition_by": "date,lang",
    # Failure gate: more than half the feeds down ends the task red (exit 3), not green.
    "max_feed_failure_ratio": "0.5",
}

# Dataflow's runtime environment for the template launch (RuntimeEnvironment / FlexTemplate).
ENVIRONMENT = {
    "tempLocation": f"gs://{BUCKET}/temp",
    "stagingLocation": f"gs://{BUCKET}/staging",
    "maxWorkers": 8,
}

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
}

with DAG(
    dag_id="wirestream_hourly_flex",
    description="wirestream news ingestion on Dataflow, from the Flex Template",
    schedule="@hourly",
    start_date=datetime(2026, 11, 1),
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["wirestream", "dataflow"],
) as flex_dag:
    DataflowStartFlexTemplateOperator(
        task_id="ingest",
        project_id=PROJECT,
        location=REGION,
        body={
            "launchParameter": {
                "jobName": "wirestream-{{ data_interval_start.strftime('%Y%m%d-%H') }}",
                "containerSpecGcsPath": "{{ var.value.wirestream_template }}",
                "parameters": PARAMETERS,
                "environment": ENVIRONMENT,
            }
        },
        append_job_name=True,
        wait_until_finished=True,
        execution_timeout=timedelta(minutes=55),
    )

with DAG(
    dag_id="wirestream_hourly_beam",
    description="wirestream news ingestion with python -m pipeline on any Beam runner",
    schedule="@hourly",
    start_date=datetime(2026, 11, 1),
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["wirestream", "beam"],
) as beam_dag:
    BeamRunPythonPipelineOperator(
        task_id="ingest",
        py_file="pipeline",
        py_options=["-m"],
        runner="{{ var.value.get('wirestream_runner', 'DirectRunner') }}",
        pipeline_options={
            **PARAMETERS,
            "temp_location": f"gs://{BUCKET}/temp",
            "setup_file": "{{ var.value.get('wirestream_setup_file', 'setup.py') }}",
        },
        dataflow_config={
            "job_name": "wirestream-{{ data_interval_start.strftime('%Y%m%d-%H') }}",
            "project_id": PROJECT,
            "location": REGION,
            "wait_until_finished": True,
        },
        execution_timeout=timedelta(minutes=55),
    )
