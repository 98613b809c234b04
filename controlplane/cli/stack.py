"""``suanli up``, ``suanli down`` and ``suanli controller run``: the embedded control plane.

``up`` starts ``python -m controlplane.local.stack`` in the background (its own session, output
to ``<state dir>/stack.log``), waits until the stack reports itself ready in its state file
(API answering, controller holding the lease), checks ``/healthz`` and prints where everything
is and what to type next. ``down`` sends the stack SIGTERM and waits for it to take everything
down. ``controller run`` runs one controller in the foreground (by default against the
cluster and store of the running stack, where it stands by while the stack's controller
leads). The CLI only starts processes and reads the state file; it never opens the store.

Mounted by ``controlplane.cli.main``::

    app.command("up")(stack.up)
    app.command("down")(stack.down)
    app.add_typer(stack.controller_app, name="controller")
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from controlplane.cli.context import resolve_output
from controlplane.cli.errors import EXIT_FAILURE, fail, friendly_errors
from controlplane.cli.output import OutputFormat, emit
from controlplane.client import SuanliClient
from controlplane.local.state import (
    CONTROLLER_MODULE,
    STACK_LOG_NAME,
    STACK_MODULE,
    StackState,
    process_alive,
    read_state,
    remove_state,
    state_file,
)
from controlplane.settings import Settings

POLL_S = 0.25
LOG_LINES_ON_FAILURE = 15

StateDirOpt = Annotated[Path | None, typer.Option("--state-dir", envvar="SUANLI_STATE_DIR",
                                                  help="where up.json and the logs live (default: the user "
                                                       "data dir)")]

controller_app = typer.Typer(help="The controller (reconcile loop) on its own.", no_args_is_help=True)


@friendly_errors
def up(ctx: typer.Context,
       cluster: Annotated[Path | None, typer.Option("--cluster", help="LocalCluster file to start "
                                                                      "(default deploy/local/cluster.yaml)")] = None,
       ray_address: Annotated[str | None, typer.Option("--ray-address", help="attach to this Ray cluster instead "
                                                                             "of starting the local one")] = None,
       port: Annotated[int | None, typer.Option(help="API port (default 8080)")] = None,
       database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: SQLite in the user "
                                                             "data dir)")] = None,
       state_dir: StateDirOpt = None,
       detach: Annotated[bool, typer.Option("--detach/--foreground",
                                            help="run in the background (default) or in this terminal")] = True,
       timeout: Annotated[float, typer.Option(help="seconds to wait for the control plane to be ready")] = 180.0,
       ) -> None:
    """Start the embedded control plane: API server, controller and a local Ray cluster."""
    fmt = resolve_output(ctx, None)
    settings = _settings(state_dir=state_dir, cluster_file=cluster, ray_address=ray_address, port=port,
                         database_url=database_url)
    path = state_file(settings.state_dir)
    running = read_state(path)
    if running is not None and process_alive(running.pid, command_contains=STACK_MODULE):
        if fmt is not OutputFormat.table:
            emit(running.to_json(), fmt)
            return
        typer.echo(f"Suanli is already up at {running.url} (pid {running.pid}); `suanli down` stops it.")
        _print_usage(running)
        return
    if running is not None:
        remove_state(path)  # left behind by a stack that was killed
    arguments = ["--state-dir", str(settings.state_dir)]
    for flag, value in (("--cluster", cluster), ("--ray-address", ray_address), ("--port", port),
                        ("--database-url", database_url)):
        if value is not None:
            arguments += [flag, str(value)]
    command = [sys.executable, "-m", STACK_MODULE, *arguments]
    if not detach:
        raise typer.Exit(_run_in_foreground(command, os.environ.copy()))
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.state_dir / STACK_LOG_NAME
    with open(log_path, "ab") as output:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    if fmt is OutputFormat.table:
        typer.echo(f"Starting the Suanli control plane (pid {process.pid}; log {log_path}) ...")
    state = _wait_until_ready(process, path, log_path, timeout)
    with SuanliClient(state.url, timeout=10.0) as client:
        client.health()
    if fmt is not OutputFormat.table:
        emit(state.to_json(), fmt)
        return
    _print_summary(state)


@friendly_errors
def down(state_dir: StateDirOpt = None,
         timeout: Annotated[float, typer.Option(help="seconds to wait before killing it")] = 90.0) -> None:
    """Stop the embedded control plane started by `suanli up` (and its local Ray cluster)."""
    path = state_file(_settings(state_dir=state_dir).state_dir)
    state = read_state(path)
    if state is None:
        typer.echo(f"Suanli is not up (no state file at {path}); nothing to stop.")
        return
    if not process_alive(state.pid, command_contains=STACK_MODULE):
        remove_state(path)
        typer.echo(f"Suanli was not running (pid {state.pid} is gone); removed its stale state file.")
        return
    typer.echo(f"Stopping the Suanli control plane at {state.url} (pid {state.pid}) ...")
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(state.pid, command_contains=STACK_MODULE) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    if process_alive(state.pid, command_contains=STACK_MODULE):
        typer.echo(f"It did not stop within {timeout:.0f}s; killing its process group.")
        _kill_group(state.pid)
        remove_state(path)
    what = "local Ray cluster stopped" if state.owns_cluster else f"attempts keep running on {state.ray_address}"
    typer.echo(f"Suanli is down ({what}).")


@controller_app.command("run")
@friendly_errors
def controller_run(
        ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to attach to "
                                                                              "(default: the `suanli up` one)")] = None,
        database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: the `suanli up` "
                                                              "store)")] = None,
        namespace: Annotated[str | None, typer.Option(help="Ray namespace of the control plane")] = None,
        state_dir: StateDirOpt = None) -> None:
    """Run a controller in the foreground until Ctrl-C (which releases its lease).

    Only the controller holding the lease acts; started next to a running one (e.g. the one of
    `suanli up`), this one stands by and takes over when the other stops or dies."""
    settings = _settings(state_dir=state_dir)
    stack = read_state(state_file(settings.state_dir))
    if stack is not None and not process_alive(stack.pid, command_contains=STACK_MODULE):
        stack = None
    address = ray_address or settings.ray_address or (stack.ray_address if stack else None)
    if not address:
        raise fail("no Ray cluster to attach to", hint="pass --ray-address host:port, or start one with `suanli up`")
    environment = os.environ.copy()
    arguments = ["--ray-address", address]
    if stack is not None and address == stack.ray_address:
        environment.update(stack.ray_environment)
        arguments += ["--database-url", database_url or stack.database_url,
                      "--namespace", namespace or stack.ray_namespace]
    else:
        if database_url:
            arguments += ["--database-url", database_url]
        if namespace:
            arguments += ["--namespace", namespace]
    raise typer.Exit(_run_in_foreground([sys.executable, "-m", CONTROLLER_MODULE, *arguments], environment))


def _settings(**overrides: Any) -> Settings:
    """``Settings()`` (the ``SUANLI_*`` environment) with the options given on the command line."""
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


def _run_in_foreground(command: list[str], environment: dict[str, str]) -> int:
    """Run ``command`` attached to this terminal; Ctrl-C reaches it too, and we wait for it."""
    process = subprocess.Popen(command, env=environment)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def _wait_until_ready(process: subprocess.Popen[bytes], path: Path, log_path: Path, timeout: float) -> StackState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise fail(f"the control plane exited during start-up (code {code}):\n{_tail(log_path)}",
                       code=2 if code in (2, 3) else EXIT_FAILURE, hint=f"full log: {log_path}")
        state = read_state(path)
        if state is not None and state.pid == process.pid:
            return state
        time.sleep(POLL_S)
    process.terminate()
    raise fail(f"the control plane was not ready within {timeout:.0f}s; stopped it:\n{_tail(log_path)}",
               code=EXIT_FAILURE, hint=f"full log: {log_path}; a slower machine may need --timeout")


def _tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return escape("\n".join(f"  {line}" for line in lines[-LOG_LINES_ON_FAILURE:]))


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _print_summary(state: StackState) -> None:
    typer.echo(f"Suanli is up at {state.url} (pid {state.pid})")
    ray = f"{state.ray_address}, namespace {state.ray_namespace}"
    if state.owns_cluster:
        ray += f"; local cluster {state.cluster_name!r} started from its definition"
    rows = [("store", state.database_url.split("@")[-1]), ("ray", ray),
            ("controller", f"pid {state.controller_pid}, holds the lease ({state.controller_holder})")]
    if state.nodes:
        rows.append(("nodes", ", ".join(f"{node.name} ({node.devices}x {node.accelerator}, {node.pool})"
                                        for node in state.nodes)))
        rows.append(("pools", ", ".join(state.pools)))
    if state.object_store:
        rows.append(("objects", f"S3 at {state.object_store.get('endpoint')}, bucket "
                                f"{state.object_store.get('bucket')} (checkpoint tier s3://...)"))
    if state.metadata:
        rows.append(("cloud", f"metadata endpoints for {', '.join(sorted(state.metadata))}; rehearse a spot "
                              "preemption with `suanli local preempt <node>` (`suanli local status`)"))
    rows.append(("logs", f"{state.stack_log} (stack), {state.controller_log} (controller), "
                         f"{state.rank_log_dir}/<attempt>/rank-<r>.log (ranks)"))
    for label, value in rows:
        typer.echo(f"  {label:<11} {value}")
    _print_usage(state)


def _print_usage(state: StackState) -> None:
    pools = "deploy/local/pools.yaml" if state.owns_cluster else "<your pools>.yaml"
    typer.echo("\nNext:")
    for line in (f"export SUANLI_SERVER={state.url}", f"suanli apply -f {pools}",
                 "suanli submit jobspecs/examples/tiny-cpu.yaml", "suanli jobs list", "suanli down"):
        typer.echo(f"  {line}")
