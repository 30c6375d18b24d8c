"""Small HTML tables for ``_repr_html_`` (Jupyter shows them in place of ``repr``).

Every title, key and value is escaped here, so callers can pass whatever text they have::

    def _repr_html_(self) -> str:
        return html_table("Producer", [("stream", self.stream_name), ("pending", self.pending)])
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Optional

__all__ = ["html_table"]

# Plain inline styles: notebooks render them in light and dark themes alike, and no stylesheet is needed.
_TABLE_STYLE = "border-collapse: collapse; text-align: left"
_CELL_STYLE = "padding: 2px 12px 2px 0; text-align: left; vertical-align: top"


def _text(value: object) -> str:
    return html.escape("" if value is None else str(value))


def html_table(title: str, rows: Iterable[tuple[str, object]], *, note: Optional[str] = None) -> str:
    """A two-column key/value table under a bold ``title``; ``note`` is a muted line under the table.

    A value of None shows as an empty cell; anything else shows as its ``str``.
    """
    cell = f'style="{_CELL_STYLE}"'
    body = "".join(
        f"<tr><th {cell}>{_text(key)}</th><td {cell}><code>{_text(value)}</code></td></tr>" for key, value in rows
    )
    footer = f'<div style="opacity: 0.7">{_text(note)}</div>' if note else ""
    return f'<div><strong>{_text(title)}</strong><table style="{_TABLE_STYLE}">{body}</table>{footer}</div>'
