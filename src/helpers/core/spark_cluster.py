"""A Spark standalone cluster on this machine: a master and workers, each its own Java process started from
the installed pyspark's `spark-class`, as on a real cluster. For trying `workbook run --engine spark
--spark-master spark://127.0.0.1:PORT` without a cluster, for the tests and for the measurements in
docs/performance.md. Spark's own `sbin/start-master.sh` is not part of the pip package, hence this.

    with StandaloneCluster(workers=1, cores=2, memory="8g", work_dir=folder) as cluster:
        ...  # cluster.master_url; cluster.completed_applications() once an application has stopped
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from helpers.core.spark import EngineUnavailableError, java_problem

HOST = "127.0.0.1"


def spark_class() -> Path:
    """The `spark-class` script of the installed pyspark."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class StandaloneCluster:
    """A master and `workers` workers on 127.0.0.1 (each with `cores` cores and `memory` for executors),
    their logs and the executors' folders under `work_dir`. Stopped on leaving the `with` block."""

    def __init__(self, work_dir: Path, workers: int = 1, cores: int = 1, memory: str = "1g",
                 start_timeout: float = 120.0):
        self.work_dir = Path(work_dir)
        self.workers, self.cores, self.memory = workers, cores, memory
        self.start_timeout = start_timeout
        self.port, self.ui_port = free_port(), free_port()
        self._processes: list[subprocess.Popen] = []

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    def state(self) -> dict:
        """The master's view (its web UI's JSON): workers, active and completed applications."""
        with urllib.request.urlopen(f"http://{HOST}:{self.ui_port}/json/", timeout=10) as answer:
            return json.load(answer)

    def completed_applications(self) -> list[dict]:
        return list(self.state().get("completedapps", []))

    def executor_logs(self) -> list[Path]:
        """The stderr files of the executors the workers ran (``<work_dir>/worker-N/app-*/<executor>/stderr``)."""
        return sorted(self.work_dir.glob("worker-*/app-*/*/stderr"))

    def _start(self, name: str, *arguments: str) -> None:
        log = (self.work_dir / f"{name}.log").open("wb")
        environment = {**os.environ, "SPARK_LOCAL_IP": HOST, "SPARK_NO_DAEMONIZE": "1"}
        self._processes.append(subprocess.Popen(
            [str(spark_class()), *arguments], stdout=log, stderr=subprocess.STDOUT, env=environment,
            start_new_session=True,  # a Ctrl-C of the caller reaches it through `stop`, not twice
        ))

    def start(self) -> StandaloneCluster:
        problem = java_problem()
        if problem:
            raise EngineUnavailableError(problem)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._start("master", "org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(self.port),
                    "--webui-port", str(self.ui_port))
        for number in range(self.workers):
            folder = self.work_dir / f"worker-{number}"
            folder.mkdir(exist_ok=True)
            self._start(f"worker-{number}", "org.apache.spark.deploy.worker.Worker", self.master_url,
                        "--host", HOST, "--cores", str(self.cores), "--memory", self.memory,
                        "--work-dir", str(folder), "--webui-port", str(free_port()))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self._processes):
                break
            try:
                alive = [w for w in self.state().get("workers", []) if w.get("state") == "ALIVE"]
            except OSError:
                alive = []
            if len(alive) == self.workers:
                return self
            time.sleep(0.5)
        logs = "; ".join(f"{p.name}: {p.read_text(errors='replace')[-500:]}" for p in self.work_dir.glob("*.log"))
        self.stop()
        raise EngineUnavailableError(f"the standalone cluster did not come up within {self.start_timeout:.0f} s ({logs})")

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
