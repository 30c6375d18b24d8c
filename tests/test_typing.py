"""The type stubs match the extension module (stubtest), and typed code using them passes ``mypy --strict``.

Each check runs mypy in a subprocess (a few seconds each); the mypy cache is shared by the checks of
one session and kept out of the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A cold mypy run on a slow machine can take longer than the suite's 60 s default.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def mypy_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {**os.environ, "MYPY_CACHE_DIR": str(tmp_path_factory.mktemp("mypy-cache")), "MYPY_FORCE_COLOR": "0"}


def run_mypy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_stubtest(mypy_env: dict[str, str]) -> None:
    done = run_mypy(mypy_env, "mypy.stubtest", "kinesis", "--allowlist", "tests/stubtest-allowlist.txt")
    assert done.returncode == 0, done.stdout + done.stderr


def test_typed_example_passes_mypy_strict(mypy_env: dict[str, str]) -> None:
    done = run_mypy(mypy_env, "mypy", "--strict", "examples/typed_usage.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_passes_mypy_strict(mypy_env: dict[str, str]) -> None:
    done = run_mypy(mypy_env, "mypy", "--strict", "-p", "kinesis")
    assert done.returncode == 0, done.stdout + done.stderr


def test_stubs_reject_wrong_calls(mypy_env: dict[str, str], tmp_path: Path) -> None:
    """The stubs are precise enough to catch mistakes, not ``Any`` all the way down."""
    source = tmp_path / "wrong.py"
    source.write_text(
        textwrap.dedent(
            """\
            import asyncio

            import kinesis
            import kinesis.aio

            conn = kinesis.connect_to_region("us-east-1", endpont_url="http://localhost")  # E1
            conn.put_record("stream", 42, "key")  # E2
            created: dict[str, object] = conn.create_stream("stream", 1)  # E3


            async def main(aconn: kinesis.aio.KinesisConnection) -> None:
                asyncio.create_task(aconn.put_record("stream", b"data", "key"))  # E4
                result: dict[str, object] = aconn.describe_stream("stream")  # E5
            """
        )
    )
    done = run_mypy(mypy_env, "mypy", "--strict", "--no-error-summary", str(source))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = source.read_text().splitlines()
    errors = [line for line in done.stdout.splitlines() if line.startswith(f"{source}:") and ": error:" in line]
    flagged = {lines[int(line[len(f"{source}:") :].split(":")[0]) - 1].rsplit("# ", 1)[-1] for line in errors}
    assert flagged == {"E1", "E2", "E3", "E4", "E5"}, done.stdout
