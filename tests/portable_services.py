"""Beam's local job service and an SDK worker pool as real processes, on 127.0.0.1 only.

This is how Dataflow, Flink and Spark run Python: the pipeline is translated to a portable
proto, sent to a job service, and executed by SDK workers in other processes, so every DoFn and
config is pickled, shipped and unpickled, and no module-level state is shared with the driver.

``python -m tests.portable_services --port N`` runs Beam's own worker pool servicer
(``BeamFnExternalWorkerPoolServicer``, process mode) bound to the loopback address:
``apache_beam.runners.worker.worker_pool_main`` does the same but listens on every interface.
The pool starts each worker as ``python``, so the launcher puts this interpreter's folder first
on ``PATH``; the workers find the wirestream package through ``PYTHONPATH`` (on Dataflow, the
``--setup_file`` install does that job).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


class PortableServices:
    """Context manager: a job service and a worker pool; ``options`` points a pipeline at them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.job_port = free_port()
        self.pool_port = free_port()
        self._processes: list[subprocess.Popen] = []

    @property
    def options(self) -> list[str]:
        return [
            "--runner=PortableRunner",
            f"--job_endpoint=localhost:{self.job_port}",
            "--environment_type=EXTERNAL",
            f"--environment_config=127.0.0.1:{self.pool_port}",
        ]

    def _start(self, args: list[str], log: str) -> subprocess.Popen:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        with (self.workdir / log).open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, *args],
                cwd=self.workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: workers are stopped with it
            )
        self._processes.append(process)
        return process

    def __enter__(self) -> PortableServices:
        try:
            jobs = self._start(
                [
                    "-m",
                    "apache_beam.runners.portability.local_job_service_main",
                    "--port",
                    str(self.job_port),
                ],
                "job_service.log",
            )
            pool = self._start(
                ["-m", "tests.portable_services", "--port", str(self.pool_port)],
                "worker_pool.log",
            )
            wait_for_port(self.job_port, jobs)
            wait_for_port(self.pool_port, pool)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self._processes.clear()

    def log(self) -> str:
        return "\n".join(
            (self.workdir / name).read_text(errors="replace")[-3000:]
            for name in ("job_service.log", "worker_pool.log")
            if (self.workdir / name).exists()
        )


def serve_worker_pool(port: int) -> None:
    """Beam's worker pool servicer, process mode, listening on 127.0.0.1 only."""
    import grpc
    from apache_beam.portability.api import beam_fn_api_pb2_grpc
    from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer
    from apache_beam.utils import thread_pool_executor

    server = grpc.server(thread_pool_executor.shared_unbounded_instance())
    pool = BeamFnExternalWorkerPoolServicer(use_process=True)
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    # SIGTERM to the process group (PortableServices.stop) ends the pool and its workers.
    server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    serve_worker_pool(parser.parse_args().port)
