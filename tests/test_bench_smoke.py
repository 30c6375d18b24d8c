"""Smoke test of the benchmark suite: ``bench/run.py --quick --no-build`` runs end to end against moto.

It asserts nothing about timings: only that the command succeeds and writes its table.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("moto") is None, reason="needs moto[server]")
@pytest.mark.timeout(60)
def test_bench_quick_runs_and_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
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
