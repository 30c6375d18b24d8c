"""Smoke test of the benchmark suite: ``bench/run.py --quick --no-build`` runs end to end against moto
(and bench/canned-server, for the threads workload).

It asserts nothing about timings: only that the command succeeds and writes its table.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("moto") is None, reason="needs moto[server]")
@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo, to build bench/canned-server")
@pytest.mark.timeout(600)
def test_bench_quick_runs_and_writes_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "results"
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
    # Built first, on its own clock: the first build compiles tokio and hyper (about a minute); after
    # that, run.py's own cargo build is a no-op and the quick run keeps its 55 s.
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    bench_run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench_run)  # its dataclasses look their module up there
    spec.loader.exec_module(bench_run)
    assert bench_run.build_canned_server().exists()
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-build", "--server", "moto"]
    done = subprocess.run(
        [*command, "--out", str(out)],
        cwd=str(ROOT),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    table = (out / "latest.md").read_text(encoding="utf-8")
    assert "| workload | ours | peer | ratio | target | met? |" in table
    for workload in ("start-up", "put_record", "get_records, empty shard", "threads", "asyncio", "producer"):
        assert workload in table
    results = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert results["failures"] == []
    assert results["summary"]
    assert results["served_by"]["threads-1"] == "canned-server"
    assert "threads: put_record throughput, 8 threads ÷ 1 thread (canned server)" in table
    assert "- server for the threads rows instead: bench/canned-server" in table
