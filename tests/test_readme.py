"""Every ```python block of README.md runs, against the test emulator.

The convention (README.md repeats it in a comment at its top):

- Each ```python block is a script of its own, run with this interpreter in a fresh process, in an
  empty temporary directory (also ``HOME``). Other fences (```sh, ```toml, ```text, plain ```) are
  not run: use them for anything that is not Python meant to run, except a ```sh block marked
  ``readme-test: shell`` (below), which bash runs (``set -euo pipefail``) with this environment's
  ``kinesis`` command first on ``PATH``.
- The environment points every connection at the emulator: ``AWS_ENDPOINT_URL`` is its URL and
  ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_DEFAULT_REGION`` are set, so
  ``kinesis.connect_to_region("us-east-1")`` (any region) just works, as it would against AWS.
- A block must finish by itself within 60 s: give readers an ``idle_timeout``, producers a ``close()``.
- An HTML comment right above the fence (blank lines between are fine) sets the stage::

      <!-- readme-test: streams=events,clicks:4 records=10 continue -->

  ``shell`` marks a ```sh block to run (see above).
  ``streams=NAME[:SHARDS],...`` creates those streams (1 shard unless given) and waits until they are
  ACTIVE before the block runs; ``records=N`` puts N records in each of them (data ``record 0``...,
  partition keys ``key-0``...); ``continue`` runs the previous block first, in the same script, for an
  example that prose splits in two.
- Streams that exist after a block and did not before it are deleted, so names can repeat across blocks.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, delete_quietly, wait_active, wait_deleted

README = Path(__file__).resolve().parents[1] / "README.md"
_DIRECTIVE = re.compile(r"<!--\s*readme-test:(?P<body>.*?)-->", re.DOTALL)
BLOCK_TIMEOUT = 60


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    section: str
    code: str
    shell: bool = False
    streams: dict[str, int] = field(default_factory=dict)
    records: int = 0
    previous: Block | None = None

    @property
    def script(self) -> str:
        return (self.previous.script + "\n" if self.previous else "") + self.code

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.section.lower()).strip("-")
        return f"line{self.line}-{slug}"


def _apply_directive(block: Block, body: str, previous: Block | None) -> None:
    for word in body.split():
        name, _, value = word.partition("=")
        if name == "streams":
            for spec in value.split(","):
                stream, _, shards = spec.partition(":")
                block.streams[stream] = int(shards or 1)
        elif name == "records":
            block.records = int(value)
        elif name == "shell":
            block.shell = True
        elif name == "continue":
            if previous is None:
                raise ValueError(f"README.md:{block.line}: 'continue' on the first python block")
            block.previous = previous
        else:
            raise ValueError(f"README.md:{block.line}: unknown readme-test directive {word!r}")


def _directive_above(lines: list[str], start: int) -> str | None:
    """The body of the ``readme-test:`` comment that ends right above line ``start`` (blank lines aside)."""
    above = "\n".join(lines[: start - 1]).rstrip()
    directives = [m for m in _DIRECTIVE.finditer(above) if m.end() == len(above)]
    return directives[-1].group("body") if directives else None


def runnable_blocks(text: str) -> list[Block]:
    """The ```python blocks and the marked ```sh blocks, with their section and directives.

    Fences inside HTML comments are not blocks (the comment at the top of README.md mentions some).
    """
    blocks: list[Block] = []
    lines = text.splitlines()
    section = "top"
    fence: str | None = None
    in_comment = False
    start = 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if fence is None:
            if in_comment or stripped.startswith("<!--"):
                in_comment = "-->" not in line
            elif line.startswith("#"):
                section = line.lstrip("#").strip()
            elif stripped.startswith("```"):
                fence, start = stripped[3:].strip().lower(), number
            continue
        if stripped != "```":
            continue
        block = Block(start, section, "\n".join(lines[start : number - 1]) + "\n")
        directive = _directive_above(lines, start)
        if directive is not None:
            same_kind = [b for b in blocks if b.shell == (fence in ("sh", "bash", "shell"))]
            _apply_directive(block, directive, same_kind[-1] if same_kind else None)
        if fence in ("python", "py") or (block.shell and fence in ("sh", "bash", "shell")):
            blocks.append(block)
        fence = None
    return blocks


BLOCKS = runnable_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 5, "the README lost its examples, or the fences are not ```python"


def test_directives_are_read():
    text = "<!-- a comment\n```python\nnot a block\n```\n-->\n"
    text += "## A\n\n<!-- readme-test: streams=a,b:3 records=2 -->\n\n```python\nx = 1\n```\n"
    text += "Then:\n<!-- readme-test: continue -->\n```python\nprint(x)\n```\n```sh\nls\n```\n"
    text += "<!-- readme-test: shell -->\n```sh\nkinesis list\n```\n```toml\n[x]\n```\n"
    first, second, shell = runnable_blocks(text)
    assert (first.line, first.section, first.streams, first.records) == (10, "A", {"a": 1, "b": 3}, 2)
    assert second.previous is first and second.script == "x = 1\n\nprint(x)\n"
    assert shell.shell and shell.code == "kinesis list\n" and not first.shell


def _prepare(conn, block: Block) -> None:
    for name, shards in block.streams.items():
        conn.create_stream(name, shards)
        wait_active(conn, name)
        for i in range(block.records):
            conn.put_record(name, f"record {i}", f"key-{i}")


@pytest.mark.timeout(BLOCK_TIMEOUT + 60)
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_runs(block: Block, kinesis_server, conn, tmp_path: Path) -> None:
    before = set(conn.list_streams()["StreamNames"])
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": kinesis_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    script = tmp_path / ("block.sh" if block.shell else "block.py")
    script.write_text(block.script, encoding="utf-8")
    command = ["bash", "-euo", "pipefail", str(script)] if block.shell else [sys.executable, str(script)]
    try:
        _prepare(conn, block)
        done = subprocess.run(
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
    finally:
        for name in set(conn.list_streams()["StreamNames"]) - before:
            delete_quietly(conn, name)
            wait_deleted(conn, name)
    assert done.returncode == 0, f"README.md:{block.line} ({block.section}) failed:\n{done.stdout}\n{done.stderr}"
