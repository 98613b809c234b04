"""Rendering of CLI results as a rich table, JSON or YAML.

Every command that prints data goes through :func:`emit`, so ``--output table|json|yaml``
behaves the same everywhere. Tables show a chosen subset of columns; JSON and YAML show the
whole objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


Column = tuple[str, str | Callable[[dict[str, Any]], Any]]
"""A table column: its header and either a key of the row or a function of the row."""


def _cell(row: dict[str, Any], spec: str | Callable[[dict[str, Any]], Any]) -> str:
    value = spec(row) if callable(spec) else row.get(spec)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def emit(data: Any, fmt: OutputFormat | str, *, columns: Sequence[Column] | None = None,
         title: str | None = None, console: Console | None = None) -> None:
    """Print ``data`` (a dict or a list of dicts) in ``fmt``.

    For tables, ``columns`` picks what to show; a dict is shown as a two-column key/value table.
    """
    console = console or Console(soft_wrap=True)
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.json:
        console.print_json(json.dumps(data, default=str))
        return
    if fmt is OutputFormat.yaml:
        console.print(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False).rstrip(),
                      markup=False, highlight=False)
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    if isinstance(data, dict):
        table.add_column("field")
        table.add_column("value")
        for key, value in data.items():
            table.add_row(str(key), _cell({"v": value}, "v"))
    else:
        cols = list(columns or [(k, k) for k in (data[0].keys() if data else [])])
        for header, _ in cols:
            table.add_column(header)
        for row in data:
            table.add_row(*[_cell(row, spec) for _, spec in cols])
    console.print(table)
