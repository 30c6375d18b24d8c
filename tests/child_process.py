"""Running Python snippets in a child interpreter, for tests of exit, fork and Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from typing import Callable


def write_script(code: str, tmp_path, name: str = "script.py"):
    script = tmp_path / name
    script.write_text(textwrap.dedent(code))
    return script


def run_python(code: str, tmp_path, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    """Run ``code`` to the end in a child interpreter; its output is captured as text."""
    return subprocess.run(
        [sys.executable, str(write_script(code, tmp_path))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def start_python(code: str, tmp_path, name: str) -> subprocess.Popen:
    """Start ``code`` in a child interpreter and return at once; stdout and stderr are pipes."""
    return subprocess.Popen(
        [sys.executable, str(write_script(code, tmp_path, name))],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def interrupt_when(
    proc: subprocess.Popen, ready: Callable[[], bool], settle: float = 0.2, timeout: float = 20
) -> tuple[str, str, float]:
    """Wait for ``ready()``, send SIGINT, and return the child's stdout, stderr and how long it took to end."""
    try:
        assert ready(), "the child never reached the blocking call"
        time.sleep(settle)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
        return out, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
