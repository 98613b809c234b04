"""``suanli local ...``: play the cloud on the embedded control plane of ``suanli up``.

The stack's local cloud (``controlplane.local.cloud``) serves a fake metadata endpoint per
AWS/GCP/Azure node and reclaims a node when its preemption deadline passes. These commands
drive it through its loopback control server, whose address they read from the state file
(``up.json``):

* ``preempt NODE [--in 2m] [--action terminate|stop|hibernate]``: the node's metadata endpoint
  announces the interruption now; the node is reclaimed (killed) when the notice runs out;
* ``remove-node NODE``: a hard loss, the node goes now without notice;
* ``restore-node NODE``: the node's capacity comes back (same name and labels);
* ``status``: every node with its cloud, metadata endpoint and state, and the object store.

Exit codes: 2 when no stack is up, the stack has no local cloud, the node is unknown, has no
cloud metadata endpoint (on-prem) or is in the wrong state; 1 when the local cloud does not
answer. Mounted by ``controlplane.cli.main`` as ``app.add_typer(local.app, name="local")``.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from controlplane.cli.context import resolve_output
from controlplane.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, fail, friendly_errors
from controlplane.cli.output import OutputFormat, emit
from controlplane.cli.stack import StateDirOpt
from controlplane.domain.errors import InvalidInputError
from controlplane.local.state import STACK_MODULE, StackState, process_alive, read_state, state_file
from controlplane.settings import Settings

REQUEST_TIMEOUT_S = 90.0
"""Restoring a node starts a Ray node, which can take a while on a busy machine."""

app = typer.Typer(help="Play the cloud on the `suanli up` cluster: preempt, remove and restore nodes.",
                  no_args_is_help=True)


class Action(StrEnum):
    terminate = "terminate"
    stop = "stop"
    hibernate = "hibernate"


_DURATION = re.compile(r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(text: str, *, field: str = "--in") -> float:
    """Seconds in ``90``, ``30s``, ``2m``, ``1m30s`` or ``1h``."""
    cleaned = text.strip().lower()
    if _NUMBER.fullmatch(cleaned):
        return float(cleaned)
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groupdict().values()):
        raise InvalidInputError(f"cannot read {text!r} as a duration", field=field,
                                hint="e.g. 2m, 30s, 1m30s or 90 (seconds)")
    hours, minutes, seconds = (float(match[unit] or 0) for unit in ("h", "m", "s"))
    return hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: float) -> str:
    """``1m40s``, ``30s``, ``2h5m``: the inverse of ``parse_duration`` for display."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs or not whole else ""]
    return "".join(parts)


OutputOpt = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")]


@app.command("preempt")
@friendly_errors
def preempt(ctx: typer.Context,
            node: Annotated[str, typer.Argument(help="the node to preempt, e.g. aws-h100-0")],
            notice: Annotated[str | None, typer.Option("--in", help="notice before the node is reclaimed: 2m, 30s, "
                                                                    "90 (default: the cloud's usual notice: AWS 2m, "
                                                                    "GCP and Azure 30s)")] = None,
            action: Annotated[Action, typer.Option(help="what the cloud does to the instance")] = Action.terminate,
            state_dir: StateDirOpt = None, output: OutputOpt = None) -> None:
    """Announce a spot preemption on the node's cloud metadata endpoint; the node is reclaimed when it runs out."""
    in_s = parse_duration(notice) if notice is not None else None
    body: dict[str, Any] = {"action": action.value}
    if in_s is not None:
        body["inSeconds"] = in_s
    _show_change(ctx, output, _request(_cloud_url(state_dir), "POST", f"/nodes/{node}/preempt", body))


@app.command("remove-node")
@friendly_errors
def remove_node(ctx: typer.Context, node: Annotated[str, typer.Argument(help="the node to take away")],
                state_dir: StateDirOpt = None, output: OutputOpt = None) -> None:
    """Take a node away now, without notice (a hard loss)."""
    _show_change(ctx, output, _request(_cloud_url(state_dir), "POST", f"/nodes/{node}/remove"))


@app.command("restore-node")
@friendly_errors
def restore_node(ctx: typer.Context, node: Annotated[str, typer.Argument(help="the removed node to bring back")],
                 state_dir: StateDirOpt = None, output: OutputOpt = None) -> None:
    """Bring a removed or reclaimed node back (same name and labels, a clean metadata endpoint)."""
    _show_change(ctx, output, _request(_cloud_url(state_dir), "POST", f"/nodes/{node}/restore"))


@app.command("status")
@friendly_errors
def status(ctx: typer.Context, state_dir: StateDirOpt = None, output: OutputOpt = None) -> None:
    """Every node with its cloud, metadata endpoint and state; the object store."""
    fmt = resolve_output(ctx, output)
    state = _running_stack(state_dir)
    cloud = _request(state.cloud_url, "GET", "/nodes") if state.cloud_url else None
    if fmt is not OutputFormat.table:
        emit({"objectStore": state.object_store, "cloudUrl": state.cloud_url,
              "nodes": cloud["nodes"] if cloud else None}, fmt)
        return
    if cloud is None:
        typer.echo(f"No local cloud: the stack at {state.url} attached to the Ray cluster at {state.ray_address} "
                   "instead of starting its own.")
    else:
        now = float(cloud["now"])
        emit(cloud["nodes"], fmt, columns=[("node", "name"), ("cloud", lambda row: row["cloud"] or row["provider"]),
                                           ("metadata", "metadataUrl"), ("state", lambda row: _state_text(row, now))])
    store = state.object_store
    if store:
        typer.echo(f"object store: {store['endpoint']} (bucket {store['url']}; SeaweedFS data in {store['dataDir']})")
    else:
        typer.echo("object store: none (checkpoints can use memory:// and file:// tiers only)")


def _show_change(ctx: typer.Context, output: OutputFormat | None, node: dict[str, Any]) -> None:
    fmt = resolve_output(ctx, output)
    if fmt is not OutputFormat.table:
        emit(node, fmt)
        return
    message = node.get("message") or f"{node['name']}: {node['state']}"
    if node.get("state") == "preempting" and node.get("deadline") is not None:
        message += f" (in {format_duration(math.ceil(float(node['deadline']) - time.time()))})"
    typer.echo(message)


def _state_text(node: dict[str, Any], now: float) -> str:
    if node["state"] == "preempting":
        deadline = float(node["deadline"])
        at = datetime.fromtimestamp(deadline, tz=UTC).strftime("%H:%M:%SZ")
        return f"preempting: {node['action']} at {at} (in {format_duration(math.ceil(deadline - now))})"
    if node["state"] == "removed":
        return f"removed ({node['reason']})"
    return str(node["state"])


def _running_stack(state_dir: Path | None) -> StackState:
    settings = Settings(state_dir=state_dir) if state_dir is not None else Settings()
    path = state_file(settings.state_dir)
    state = read_state(path)
    if state is None or not process_alive(state.pid, command_contains=STACK_MODULE):
        raise fail(f"Suanli is not up (no running stack with state file {path})",
                   hint="`suanli up` starts the embedded control plane and its local cloud")
    return state


def _cloud_url(state_dir: Path | None) -> str:
    state = _running_stack(state_dir)
    if not state.cloud_url:
        raise fail(f"the stack at {state.url} has no local cloud: it attached to the Ray cluster at "
                   f"{state.ray_address} instead of starting its own",
                   hint="`suanli down`, then `suanli up` without --ray-address")
    return state.cloud_url


def _request(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        response = httpx.request(method, base_url + path, json=body, timeout=REQUEST_TIMEOUT_S)
    except httpx.HTTPError as error:
        raise fail(f"the local cloud at {base_url} does not answer: {error}", code=EXIT_FAILURE,
                   hint="`suanli up` again if the stack died; its log is in the state dir (stack.log)") from None
    try:
        document = response.json()
    except ValueError:
        document = {"message": response.text.strip() or f"HTTP {response.status_code}"}
    if response.status_code >= 400:
        message = str(document.get("message") or f"HTTP {response.status_code}")
        raise fail(message, hint=document.get("hint"),
                   code=EXIT_BAD_INPUT if response.status_code < 500 else EXIT_FAILURE)
    if not isinstance(document, dict):
        raise fail(f"the local cloud answered {document!r}", code=EXIT_FAILURE)
    return document
