"""``suanli server start``: run the API server (the composition root is ``create_app``)."""

from __future__ import annotations

from typing import Annotated

import typer

from controlplane.api.app import create_app
from controlplane.cli.errors import friendly_errors
from controlplane.settings import Settings

app = typer.Typer(help="Run the control-plane server.", no_args_is_help=True)


@app.command("start")
@friendly_errors
def start(host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
          port: Annotated[int | None, typer.Option(help="port (default 8080)")] = None,
          database_url: Annotated[str | None, typer.Option(envvar="SUANLI_DATABASE_URL",
                                                           help="SQLAlchemy URL; default: SQLite in the "
                                                                "user data dir")] = None,
          log_level: Annotated[str, typer.Option()] = "info") -> None:
    """Start the API server in the foreground (Ctrl-C stops it cleanly)."""
    import uvicorn

    overrides: dict[str, object] = {"log_level": log_level}
    if host:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if database_url:
        overrides["database_url"] = database_url
    settings = Settings(**overrides)  # type: ignore[arg-type]
    api = create_app(settings)
    typer.echo(f"suanli server listening on http://{settings.host}:{settings.port} "
               f"(store: {settings.database_url.split('@')[-1]})")
    uvicorn.run(api, host=settings.host, port=settings.port, log_level=settings.log_level)
