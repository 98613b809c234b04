"""The controller process: ``python -m controlplane.local.controller_main``.

The composition root of one controller: it builds ``Settings`` (``SUANLI_*`` variables, then
the command-line options), the store's session factory (migrating the schema if needed), a
``RayRuntime`` attached to the cluster at ``ray_address`` in the control plane's Ray namespace,
and a ``Controller``; then ticks every ``controller_interval_s`` until SIGTERM or SIGINT.
``checkpoint_storage_options`` (``SUANLI_CHECKPOINT_STORAGE_OPTIONS``) go to the controller,
which hands them to the ranks; with ``notice_sources`` (``SUANLI_NOTICE_SOURCES``) the runtime
also drains one notice agent per listed node, polling that node's cloud metadata endpoint
(``controlplane.local.notices``; the stack sets both for its local object store and cloud).

Leadership: only the process holding the ``controller`` lease acts; any other one stands by
and takes over once the lease lapses (``lease_ttl_s`` after its holder stopped renewing it).
A clean stop (SIGTERM/SIGINT) releases the lease at once and leaves the attempts running on
the cluster; SIGKILL leaves the lease to expire. Either way the next leader adopts the running
attempts (see ``controlplane.runtime.ray.runtime``) and re-applies the intents its predecessor
recorded but did not finish, so no job is lost and no attempt starts twice.

Exit codes: 0 after a clean stop, 2 for bad settings (no Ray address, bad database URL).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from controlplane.domain.errors import DomainError, InvalidInputError
from controlplane.settings import Settings

if TYPE_CHECKING:
    from controlplane.local.notices import NodeNoticeAgents

log = logging.getLogger("controlplane.controller")

EXIT_BAD_SETTINGS = 2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m controlplane.local.controller_main",
                                     description="Run the Suanli controller (reconcile loop) until SIGTERM.")
    parser.add_argument("--ray-address", help="Ray cluster (host:port or ray://...); default SUANLI_RAY_ADDRESS")
    parser.add_argument("--database-url", help="SQLAlchemy URL; default SUANLI_DATABASE_URL or the embedded SQLite")
    parser.add_argument("--namespace", help="Ray namespace of this control plane; default SUANLI_RAY_NAMESPACE")
    parser.add_argument("--interval", type=float, help="seconds between ticks; default SUANLI_CONTROLLER_INTERVAL_S")
    parser.add_argument("--lease-ttl", type=float, help="lease time-to-live in seconds; default SUANLI_LEASE_TTL_S")
    parser.add_argument("--log-dir", help="where ranks write their logs; default SUANLI_LOG_DIR")
    return parser.parse_args(argv)


def settings_from(arguments: argparse.Namespace) -> Settings:
    """``Settings()`` with the options given on the command line laid over the environment."""
    overrides = {name: value for name, value in {
        "ray_address": arguments.ray_address, "database_url": arguments.database_url,
        "ray_namespace": arguments.namespace, "controller_interval_s": arguments.interval,
        "lease_ttl_s": arguments.lease_ttl, "log_dir": arguments.log_dir,
    }.items() if value is not None}
    return Settings(**overrides)


def run_controller(settings: Settings, stop: threading.Event) -> None:
    """Build the controller from ``settings`` and tick until ``stop`` is set; then release the
    lease and disconnect from the cluster, leaving the attempts running."""
    from controlplane.controller.loop import Controller
    from controlplane.runtime.ray import RayRuntime
    from controlplane.store import create_engine_for, ensure_schema, make_session_factory

    if not settings.ray_address:
        raise InvalidInputError("the controller needs a Ray cluster to attach to", field="ray_address",
                          hint="pass --ray-address host:port or set SUANLI_RAY_ADDRESS (or run `suanli up`)")
    ensure_schema(settings.database_url)
    engine = create_engine_for(settings.database_url)
    try:
        notice_agents = _notice_agents(settings)
        handlers = _signal_handlers()
        runtime = RayRuntime(address=settings.ray_address, namespace=settings.ray_namespace, log_dir=settings.log_dir,
                             notice_sources=[notice_agents] if notice_agents is not None else [])
        _restore_signal_handlers(handlers)  # ray.init installs a SIGTERM handler that exits at once
        try:
            controller = Controller(make_session_factory(engine), runtime, lease_ttl_s=settings.lease_ttl_s,
                                    storage_options=settings.checkpoint_storage_options)
            log.info("controller %s attached to Ray at %s (namespace %s); store %s; standing by until it holds "
                     "the lease", controller.holder, settings.ray_address, runtime.namespace,
                     settings.database_url.split("@")[-1])
            if settings.checkpoint_storage_options:
                log.info("checkpoint storage options for %s", ", ".join(sorted(settings.checkpoint_storage_options)))
            controller.run(stop, interval_s=settings.controller_interval_s)
            log.info("controller %s stopped; lease released, attempts left running", controller.holder)
        finally:
            if notice_agents is not None:
                notice_agents.stop()
            runtime.disconnect()
    finally:
        engine.dispose()


def _notice_agents(settings: Settings) -> NodeNoticeAgents | None:
    """Notice agents for the nodes of ``settings.notice_sources`` (started lazily, on the first
    ``observe`` of the leading controller); None when no node is listed."""
    from controlplane.local.notices import NodeNoticeAgents, source_specs

    if not settings.notice_sources:
        return None
    specs = source_specs(settings.notice_sources)
    log.info("notice agents will poll the metadata endpoints of %s", ", ".join(
        f"{node} ({entries[0].cloud} at {entries[0].base_url or 'the default address'})"
        for node, entries in specs.items()))
    return NodeNoticeAgents(specs)


def _signal_handlers() -> dict[signal.Signals, Any]:
    return {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}


def _restore_signal_handlers(handlers: dict[signal.Signals, Any]) -> None:
    if threading.current_thread() is threading.main_thread():
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s [controller pid %(process)d] %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping after the current tick", signal.Signals(signum).name)
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)
    try:
        run_controller(settings_from(parse_arguments(argv)), stop)
    except DomainError as error:
        where = f"{error.field}: " if error.field else ""
        hint = f" ({error.hint})" if error.hint else ""
        print(f"error: {where}{error.message}{hint}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    return 0


if __name__ == "__main__":
    sys.exit(main())
