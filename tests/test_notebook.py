"""Notebooks: the example notebook runs top to bottom in a real Jupyter kernel, and objects show well there."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Before jupyter_core is imported: its older releases (the ones Python 3.9 gets) warn at import
# time about the move to platformdirs unless this is set, and the suite turns warnings into errors.
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")

import kinesis
import kinesis.aio
import nbformat
import pytest
from kinesis._html import html_table
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
SECRET = "do-not-show-this-secret"

# Starting a kernel and a moto server, then running every cell, takes a few seconds; allow a slow machine.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec that runs this interpreter (the test venv's, whatever ``python`` is on PATH)."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "kinesis-tests"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kinesis tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # the new locations, without the migration warning
    return "kinesis-tests"


def _text(cell: nbformat.NotebookNode, mime: str = "text/plain") -> str:
    return "".join(str(out.get("data", {}).get(mime, "")) + str(out.get("text", "")) for out in cell.outputs)


def test_quickstart_notebook_runs(kernel_name: str, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, kernel_name=kernel_name, timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in cells:
        assert not [out for out in cell.outputs if out.output_type == "error"], cell.source
        assert not [out for out in cell.outputs if out.get("name") == "stderr"], cell.source

    def output_of(fragment: str, mime: str = "text/plain") -> str:
        (cell,) = [cell for cell in cells if fragment in cell.source]
        return _text(cell, mime)

    assert "running" in output_of("LocalKinesisServer().start()")
    connection = output_of("conn = server.connect()", "text/html")
    assert "<strong>KinesisConnection</strong>" in connection and "credentials from" in connection
    assert "local-secret-access-key" not in connection
    assert output_of("conn.create_stream") == "['shardId-000000000000', 'shardId-000000000001']"
    assert output_of("result = conn.put_records") == "0"
    read_back = output_of("get_records(iterator)")
    assert "('binary', b'\\x00\\xff not text')" in read_back and "('user-1', 'hello')" in read_back
    assert output_of("StreamReader(conn").startswith("Record(")
    assert output_of("await asyncio.gather").startswith("(10, 'shardId-00000000000")
    assert "stopped" in output_of("server.stop()")


def test_connection_html_shows_where_not_secrets() -> None:
    conn = kinesis.connect_to_region(
        "eu-west-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key=SECRET, endpoint_url="http://127.0.0.1:9"
    )
    html = conn._repr_html_()
    assert "<strong>KinesisConnection</strong>" in html
    for shown in ("eu-west-1", "http://127.0.0.1:9", "the aws_access_key_id/aws_secret_access_key arguments"):
        assert f"<code>{shown}</code>" in html
    assert "<code>blocking</code>" in html and "<code>open</code>" in html
    assert SECRET not in html and "AKIDEXAMPLE" not in html
    conn.close()
    assert "<code>closed</code>" in conn._repr_html_()


async def test_asyncio_connection_html() -> None:
    aconn = kinesis.aio.connect_to_region("us-west-2", aws_access_key_id="a", aws_secret_access_key=SECRET)
    html = aconn._repr_html_()
    assert "<code>asyncio</code>" in html and "<code>https://kinesis.us-west-2.amazonaws.com</code>" in html
    assert SECRET not in html
    await aconn.close()


def test_html_table_escapes_everything() -> None:
    html = html_table("<b>title</b>", [("<k>", "<script>alert(1)</script>"), ("none", None), ("n", 3)], note="a & b")
    assert "<script>" not in html and "<b>" not in html and "<k>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;title&lt;/b&gt;" in html
    assert "<code></code>" in html and "<code>3</code>" in html and "a &amp; b" in html
