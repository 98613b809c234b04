"""The embedded control plane in one process tree: ``python -m controlplane.local.stack``.

``suanli up`` starts this process in the background; it is the composition root of the whole
local control plane:

* **the store**: the schema is migrated (SQLite in the user data dir by default);
* **Ray**: the local heterogeneous cluster of ``cluster_file`` (``LocalRayCluster``, light
  settings: no dashboard, no usage stats, no token auth, a private ``RAY_TMPDIR``), or the
  existing cluster at ``ray_address``;
* **local cloud services**, only with the local cluster: an S3 server for checkpoints
  (SeaweedFS, ``controlplane.local.object_store``: data in ``<state dir>/object-store``, bucket
  ``suanli-checkpoints``; skipped with a log line when ``local_object_store`` is off, ``weed`` is
  not installed or ``checkpoint_storage_options`` already configure ``s3``), and the local cloud
  (``controlplane.local.cloud``): a fake metadata endpoint per AWS/GCP/Azure node and the hand
  that reclaims a node when its preemption deadline passes (``suanli local`` drives it). The
  controller gets the s3fs options as ``SUANLI_CHECKPOINT_STORAGE_OPTIONS`` (``{"s3": {...}}``)
  and the endpoints as ``SUANLI_NOTICE_SOURCES`` (``{node: {"cloud", "baseUrl"}}``);
* **the controller**: a child process (``controlplane.local.controller_main``) attached to the
  cluster by address, supervised by ``ControllerSupervisor``: restarted with back-off whenever
  it dies, so it can be killed and restarted on its own (the lease and the adoption of running
  attempts make that safe). A child process rather than a detached Ray actor: the controller
  needs the store, which in the embedded default is a SQLite file on this machine, not on
  whichever Ray node an actor would land on; a separate process also keeps Ray's worker
  life cycle out of the controller's;
* **the API server**: uvicorn serving ``create_app(settings)`` on this process's main thread.

Once the API answers and the controller holds the lease, the state file
(``<state dir>/up.json``, see ``state``) is written; it is rewritten when the controller is
restarted. SIGTERM or SIGINT stops everything in order: the controller (clean lease release,
attempts left running), the server, the local cloud, the local Ray cluster if this process
started it (its attempts end with it), the object store, the state file. Logs: this process's
output goes wherever its parent sent it (``suanli up``: ``<state dir>/stack.log``), the
controller's to ``<state dir>/controller.log``, the ranks' to ``<log dir>/<attempt>/rank-<r>.log``,
SeaweedFS's to ``<state dir>/object-store/weed.log``.

Exit codes: 0 after a clean stop, 2 for bad settings (port taken, bad cluster file), 3 if
another stack already runs with the same state dir.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from controlplane.domain.errors import DomainError, InvalidInputError
from controlplane.local.cloud import CloudNode, LocalCloud
from controlplane.local.object_store import SeaweedS3
from controlplane.local.state import (
    CONTROLLER_LOG_NAME,
    CONTROLLER_MODULE,
    STACK_LOG_NAME,
    STACK_MODULE,
    ClusterNode,
    StackState,
    process_alive,
    read_state,
    remove_state,
    state_file,
    write_state,
)
from controlplane.settings import Settings

log = logging.getLogger("controlplane.stack")

EXIT_BAD_SETTINGS = 2
EXIT_ALREADY_UP = 3
CONTROLLER_STOP_TIMEOUT_S = 30.0
RESTART_BACKOFF_S = (1.0, 30.0)
"""First and longest wait before restarting a controller that died (doubling in between)."""
STEADY_AFTER_S = 60.0
"""A controller that ran this long before dying is restarted after the shortest wait again."""
WATCH_INTERVAL_S = 0.5
STACK_VOLUME_MB = 256
OBJECT_STORE_DIR = "object-store"


class ControllerSupervisor:
    """Runs the controller as a child process and restarts it whenever it dies unasked."""

    def __init__(self, command: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self._command = list(command)
        self._env = env
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, name="controller-supervisor", daemon=True)
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None and self._process.poll() is None else None

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def stop(self, timeout_s: float = CONTROLLER_STOP_TIMEOUT_S) -> None:
        """SIGTERM the controller (it releases the lease), SIGKILL it after ``timeout_s``."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("controller pid %d ignored SIGTERM for %.0fs; killing it", process.pid, timeout_s)
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _spawn(self) -> None:
        with open(self._log_path, "ab") as output:
            process = subprocess.Popen(self._command, env=self._env, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT)
        with self._lock:
            self._process = process
        log.info("controller started (pid %d)", process.pid)

    def _supervise(self) -> None:
        delay = RESTART_BACKOFF_S[0]
        while not self._stopping.is_set():
            with self._lock:
                process = self._process
            assert process is not None
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            delay = RESTART_BACKOFF_S[0] if lived >= STEADY_AFTER_S else delay
            log.warning("controller pid %d exited with code %d after %.0fs; restarting in %.0fs",
                        process.pid, code, lived, delay)
            if self._stopping.wait(delay):
                return
            self._spawn()
            self.restarts += 1
            delay = min(delay * 2, RESTART_BACKOFF_S[1])


class EmbeddedStack:
    """The embedded control plane; ``run`` blocks until SIGTERM/SIGINT (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._state_dir = Path(settings.state_dir)
        self._state_path = state_file(self._state_dir)
        self._stopping = threading.Event()
        self._server: Any = None
        self._object_store: SeaweedS3 | None = None
        self._cloud: LocalCloud | None = None
        self._started_at = datetime.now(tz=UTC).isoformat(timespec="seconds")

    @property
    def url(self) -> str:
        return f"http://{self._settings.host}:{self._settings.port}"

    def run(self) -> int:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        running = read_state(self._state_path)
        if running is not None and running.pid != os.getpid() and process_alive(running.pid,
                                                                                command_contains=STACK_MODULE):
            log.error("a control plane is already up at %s (pid %d); `suanli down` stops it", running.url,
                      running.pid)
            return EXIT_ALREADY_UP
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request_stop)
        try:
            self._check_port_free()
            return self._run_components()
        except DomainError as error:
            log.error("%s", error)
            return EXIT_BAD_SETTINGS

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stopping.is_set():
            log.info("received %s; stopping the control plane", signal.Signals(signum).name)
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True

    def _run_components(self) -> int:
        import uvicorn

        from controlplane.api.app import create_app
        from controlplane.runtime.cluster_definition import load_cluster_definition
        from controlplane.runtime.ray.local_cluster import LocalRayCluster

        settings = self._settings
        app = create_app(settings)
        cluster: LocalRayCluster | None = None
        supervisor: ControllerSupervisor | None = None
        nodes: tuple[ClusterNode, ...] = ()
        cluster_name: str | None = None
        try:
            address = settings.ray_address
            if address is None:
                definition = load_cluster_definition(settings.cluster_file)
                cluster_name = definition.name
                nodes = tuple(ClusterNode(node.name, node.pool, node.accelerator, node.devices, node.provider)
                              for node in definition.nodes)
                self._object_store = self._start_object_store()
                if self._stopping.is_set():
                    return 0
                log.info("starting the local Ray cluster %r (%d nodes) from %s", definition.name,
                         len(definition.nodes), settings.cluster_file)
                cluster = LocalRayCluster.start(definition)
                address = cluster.address
                log.info("local Ray cluster up at %s", address)
                self._cloud = _start_cloud(cluster)
            if self._stopping.is_set():
                return 0
            supervisor = ControllerSupervisor(
                [sys.executable, "-m", CONTROLLER_MODULE], self._controller_environment(address),
                self._state_dir / CONTROLLER_LOG_NAME)
            supervisor.start()
            server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                                   log_level=settings.log_level, lifespan="on",
                                                   access_log=settings.log_level == "debug"))
            self._server = server
            keeper = threading.Thread(target=self._keep_state, name="state-keeper", daemon=True,
                                      args=(app, supervisor, address, cluster, cluster_name, nodes))
            keeper.start()
            if not self._stopping.is_set():
                server.run()
            return 0
        except DomainError as error:
            log.error("%s", error)
            return EXIT_BAD_SETTINGS
        finally:
            self._stopping.set()
            remove_state(self._state_path, pid=os.getpid())
            if supervisor is not None:
                log.info("stopping the controller")
                supervisor.stop()
            if self._server is None or not self._server.started:
                app.state.services.close()
            if self._cloud is not None:
                self._cloud.stop()
            if cluster is not None:
                log.info("shutting the local Ray cluster down")
                cluster.shutdown()
            if self._object_store is not None:
                log.info("stopping the object store")
                self._object_store.stop()
            log.info("the control plane is down")

    def _controller_environment(self, address: str) -> dict[str, str]:
        settings = self._settings
        environment = {**os.environ, "PYTHONUNBUFFERED": "1",
                       "SUANLI_DATABASE_URL": settings.database_url, "SUANLI_RAY_ADDRESS": address,
                       "SUANLI_RAY_NAMESPACE": settings.ray_namespace, "SUANLI_LOG_DIR": str(settings.log_dir),
                       "SUANLI_LEASE_TTL_S": str(settings.lease_ttl_s),
                       "SUANLI_CONTROLLER_INTERVAL_S": str(settings.controller_interval_s)}
        storage_options = dict(settings.checkpoint_storage_options)
        if self._object_store is not None:
            storage_options["s3"] = self._object_store.storage_options()
        if storage_options:
            environment["SUANLI_CHECKPOINT_STORAGE_OPTIONS"] = json.dumps(storage_options)
        notice_sources = dict(settings.notice_sources)
        if self._cloud is not None:
            notice_sources.update(self._cloud.notice_sources())
        if notice_sources:
            environment["SUANLI_NOTICE_SOURCES"] = json.dumps(notice_sources)
        return environment

    def _start_object_store(self) -> SeaweedS3 | None:
        """The local S3 server for checkpoints, or None (with a log line saying why not)."""
        from controlplane.local.object_store import (
            DEFAULT_BUCKET,
            INSTALL_HINT,
            start_seaweedfs,
            stop_leftover,
            weed_binary,
        )

        settings = self._settings
        if not settings.local_object_store:
            log.info("no local object store: SUANLI_LOCAL_OBJECT_STORE is off")
            return None
        if "s3" in settings.checkpoint_storage_options:
            log.info("no local object store: SUANLI_CHECKPOINT_STORAGE_OPTIONS already configures s3")
            return None
        if weed_binary() is None:
            log.warning("no local object store: SeaweedFS is not installed (%s); checkpoints can use memory:// "
                        "and file:// tiers only", INSTALL_HINT)
            return None
        directory = self._state_dir / OBJECT_STORE_DIR
        leftover = stop_leftover(directory)
        if leftover is not None:
            log.warning("killed the object store (pid %d) a previous stack left running on %s", leftover, directory)
        log.info("starting the object store (SeaweedFS S3, data in %s)", directory)
        try:
            # Checkpoints are tens of MiB each and SeaweedFS reclaims deleted space only when it
            # vacuums: size the volumes from the free disk (max 0), not the tests' 1 GiB cap.
            store = start_seaweedfs(directory, bucket=DEFAULT_BUCKET, volume_size_mb=STACK_VOLUME_MB, max_volumes=0)
        except (OSError, RuntimeError) as error:
            log.warning("no local object store: SeaweedFS did not start: %s", error)
            return None
        log.info("object store up at %s (bucket %s, pid %d)", store.endpoint, store.bucket, store.pid)
        return store

    def _keep_state(self, app: Any, supervisor: ControllerSupervisor, address: str, cluster: Any,
                    cluster_name: str | None, nodes: tuple[ClusterNode, ...]) -> None:
        """Write the state file once the API answers and the controller leads; rewrite it when
        a restarted controller takes the lease."""
        written_for: int | None = None
        while not self._stopping.wait(WATCH_INTERVAL_S):
            if self._server is None or not self._server.started:
                continue
            pid = supervisor.pid
            holder = _leader(app)
            if pid is None or holder is None or _holder_pid(holder) != pid or written_for == pid:
                continue
            state = StackState(
                pid=os.getpid(), url=self.url, ray_address=address, ray_namespace=self._settings.ray_namespace,
                owns_cluster=cluster is not None, database_url=self._settings.database_url,
                controller_pid=pid, controller_holder=holder, controller_restarts=supervisor.restarts,
                stack_log=str(self._state_dir / STACK_LOG_NAME),
                controller_log=str(self._state_dir / CONTROLLER_LOG_NAME),
                rank_log_dir=str(self._settings.log_dir), started_at=self._started_at, cluster_name=cluster_name,
                ray_temp_dir=str(cluster.temp_dir) if cluster is not None else None, nodes=nodes,
                ray_environment=_ray_environment(cluster), object_store=_object_store_state(self._object_store),
                cloud_url=self._cloud.control_url if self._cloud is not None else None,
                metadata=self._cloud.metadata() if self._cloud is not None else {})
            if not self._stopping.is_set():
                write_state(self._state_path, state)
                log.info("%s: the control plane is up at %s; controller %s leads", "ready" if written_for is None
                         else "controller restarted", self.url, holder)
                written_for = pid

    def _check_port_free(self) -> None:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self._settings.host, self._settings.port))
            except OSError as error:
                raise InvalidInputError(f"cannot listen on {self._settings.host}:{self._settings.port}: "
                                        f"{error.strerror}", field="port",
                                        hint="pass --port with a free port (or stop what uses it)") from error


def _start_cloud(cluster: Any) -> LocalCloud:
    """The local cloud of ``cluster``: reclaiming a node kills it at once, as a cloud terminates an instance."""
    cloud = LocalCloud([CloudNode(node.name, node.provider) for node in cluster.definition.nodes],
                       remove_node=lambda name: cluster.remove_node(name, graceful=False),
                       restore_node=lambda name: _restore_off_the_main_thread(cluster, name)).start()
    endpoints = cloud.metadata()
    log.info("local cloud up at %s; metadata endpoints: %s", cloud.control_url,
             ", ".join(f"{name} ({entry['cloud']} {entry['url']})" for name, entry in endpoints.items()) or "none")
    return cloud


def _restore_off_the_main_thread(cluster: Any, name: str) -> None:
    """``cluster.restore_node`` from a local-cloud thread.

    Starting a Ray node registers a SIGTERM handler (``ray._private.utils.set_sigterm_handler``),
    which Python allows only on the main thread, and the main thread serves the API. The handler
    is not needed here (the stack shuts the whole cluster down itself), so registering it is
    skipped for the call; the local cloud runs its node calls one at a time.
    """
    import ray._private.utils as ray_utils

    if threading.current_thread() is threading.main_thread():
        cluster.restore_node(name)
        return
    register = ray_utils.set_sigterm_handler
    ray_utils.set_sigterm_handler = lambda handler: None
    try:
        cluster.restore_node(name)
    finally:
        ray_utils.set_sigterm_handler = register


def _object_store_state(store: SeaweedS3 | None) -> dict[str, Any] | None:
    if store is None:
        return None
    return {"endpoint": store.endpoint, "bucket": store.bucket, "url": store.url(),
            "storageOptions": store.storage_options(), "dataDir": str(store.directory)}


def _ray_environment(cluster: Any) -> dict[str, str]:
    if cluster is None:
        return {}
    from controlplane.runtime.ray.local_cluster import light_ray_environment

    return light_ray_environment(str(cluster.temp_dir))


def _leader(app: Any) -> str | None:
    """The holder of the controller lease, if it is current."""
    from controlplane.controller.loop import LEASE_NAME
    from controlplane.store import session_scope
    from controlplane.store.models.base import utcnow
    from controlplane.store.repositories import LeaseRepository

    with contextlib.suppress(Exception), session_scope(app.state.services.context.session_factory) as session:
        lease = LeaseRepository(session).current(LEASE_NAME)
        if lease is not None and lease.expires_at > utcnow():
            return lease.holder
    return None


def _holder_pid(holder: str) -> int | None:
    """The pid in a lease holder ``host:pid:nonce``."""
    parts = holder.split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {STACK_MODULE}",
                                     description="Run the embedded Suanli control plane until SIGTERM.")
    parser.add_argument("--state-dir", help="where up.json and the logs go; default SUANLI_STATE_DIR")
    parser.add_argument("--cluster", help="LocalCluster file to start; default SUANLI_CLUSTER_FILE")
    parser.add_argument("--ray-address", help="attach to this Ray cluster instead of starting one")
    parser.add_argument("--host", help="API bind address; default SUANLI_HOST")
    parser.add_argument("--port", type=int, help="API port; default SUANLI_PORT")
    parser.add_argument("--database-url", help="SQLAlchemy URL; default SUANLI_DATABASE_URL")
    parser.add_argument("--log-level", help="default SUANLI_LOG_LEVEL")
    return parser.parse_args(argv)


def settings_from(arguments: argparse.Namespace) -> Settings:
    overrides = {name: value for name, value in {
        "state_dir": arguments.state_dir, "cluster_file": arguments.cluster, "ray_address": arguments.ray_address,
        "host": arguments.host, "port": arguments.port, "database_url": arguments.database_url,
        "log_level": arguments.log_level,
    }.items() if value is not None}
    return Settings(**overrides)


def main(argv: Sequence[str] | None = None, *, stream: IO[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=stream or sys.stderr,
                        format="%(asctime)s %(levelname)s [stack pid %(process)d] %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return EmbeddedStack(settings_from(parse_arguments(argv))).run()


if __name__ == "__main__":
    sys.exit(main())
