"""Per-invocation CLI context: where the server is and how to print. Built once in the root callback."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from controlplane.cli.output import OutputFormat
from controlplane.client import SuanliClient


@dataclass
class CliContext:
    server: str
    output: OutputFormat

    def client(self) -> SuanliClient:
        return SuanliClient(self.server)


def cli_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):  # a sub-app invoked on its own (tests)
        from controlplane.client.client import DEFAULT_SERVER
        return CliContext(server=DEFAULT_SERVER, output=OutputFormat.table)
    return obj


def resolve_output(ctx: typer.Context, local: OutputFormat | None) -> OutputFormat:
    """A command's own ``-o`` wins over the global one."""
    return local or cli_context(ctx).output
