"""The ``suanli`` command: the root typer app and its sub-commands.

The CLI talks to the control plane only over HTTP through ``controlplane.client`` (except
``server start``, which runs it). Global options: ``--server`` / ``SUANLI_SERVER`` and
``--output table|json|yaml``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from controlplane.cli import catalog, checkpoints, cluster, experts, jobs, local, resources, server, stack
from controlplane.cli.context import CliContext
from controlplane.cli.estimate import estimate
from controlplane.cli.output import OutputFormat
from controlplane.cli.place import place
from controlplane.cli.simulate import simulate
from controlplane.cli.watch import watch
from controlplane.client.client import DEFAULT_SERVER

app = typer.Typer(name="suanli", help="Suanli: one control plane for AI compute across clouds and accelerators.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def root(ctx: typer.Context,
         server_url: Annotated[str, typer.Option("--server", envvar="SUANLI_SERVER",
                                                 help="control-plane address")] = DEFAULT_SERVER,
         output: Annotated[OutputFormat, typer.Option("--output", "-o", help="table, json or yaml")]
         = OutputFormat.table) -> None:
    ctx.obj = CliContext(server=server_url, output=output)


app.command("apply")(resources.apply)
app.command("submit")(resources.submit)
app.command("validate")(resources.validate)
app.command("schema")(resources.schema)
app.command("events")(cluster.events)
app.command("estimate")(estimate)
app.command("place")(place)
app.command("simulate")(simulate)
jobs.app.command("watch")(watch)
app.add_typer(jobs.app, name="jobs")
app.add_typer(cluster.pools_app, name="pools")
app.add_typer(cluster.queues_app, name="queues")
app.add_typer(server.app, name="server")
app.command("up")(stack.up)
app.command("down")(stack.down)
app.add_typer(stack.controller_app, name="controller")
app.add_typer(catalog.app, name="catalog")
app.add_typer(experts.app, name="experts")
app.add_typer(checkpoints.app, name="checkpoints")
app.add_typer(local.app, name="local")


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
