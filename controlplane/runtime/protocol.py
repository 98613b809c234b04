"""``Runtime``: the narrow interface the controller uses to run attempts on some cluster.

Two implementations pass the same contract suite (``tests/contract/``): ``RayRuntime``
(``controlplane.runtime.ray``) runs ranks as Ray actors pinned to labelled nodes, and
``SimRuntime`` (``controlplane.runtime.sim``) plays them on a virtual clock.

The contract
------------
* **Asynchronous.** ``launch``, ``stop``, ``request_checkpoint``, ``cordon`` and ``uncordon``
  return at once; their effect shows up in later ``observe`` calls. A launched attempt is
  ``launching`` until every rank runs, then ``running``, then ends in exactly one terminal state:
  ``succeeded`` (every rank returned / exited 0), ``failed`` (a rank raised or exited non-zero;
  ``reason`` names the rank and error, that rank's ``log_tail`` ends with it), ``stopped`` (after
  ``stop``) or ``lost`` (a node hosting a rank disappeared; ``reason`` starts with
  ``"node lost"`` so the controller can retry elsewhere). A terminal attempt stays observable
  and never changes again, until ``forget`` drops it from observations (its request id stays
  known, so a repeated launch is still a no-op). When one rank fails or is lost the runtime
  stops the others.
* **Idempotent by request id.** ``launch`` with a ``request_id`` seen before and an equal spec
  is a no-op, whatever state the attempt is in; a different spec under a known request id, or a
  known ``attempt_id`` under another request id, raises ``ConflictError``. A launch refused
  with ``InvalidInputError`` (malformed spec) or ``LaunchRejected`` (unknown, dead or cordoned
  node, too few free devices) starts nothing and records nothing, so it may be retried.
* **Stopping is forgiving.** ``stop`` of an unknown or already finished attempt is a no-op;
  stopping twice is the same as once, except that an immediate stop overrides a graceful one.
  ``grace_s=None`` ends the ranks now; a number asks them to finish (``should_stop()`` turns
  true in the worker SDK) and ends them ``grace_s`` seconds later if they have not.
* **Events are drained through a cursor.** ``observe(since=c)`` returns the step reports,
  checkpoint commits and notices after cursor ``c`` (everything retained for ``None``) and the
  cursor to pass next; events at or before ``c`` count as acknowledged. Nothing is lost or
  delivered twice as long as each cursor is passed back.
* **Cordon is the runtime's own state.** A cordoned node refuses new launches; running ranks
  are not touched. Cordoning an unknown node raises ``NotFoundError``.
* **One clock.** ``now()`` is the runtime's clock (wall-clock seconds for Ray, virtual seconds
  for the simulator); every time in an observation is on it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from controlplane.runtime.types import Cursor, LaunchSpec, Observation


@runtime_checkable
class Runtime(Protocol):
    """Runs attempts on a cluster; see the module docstring for the contract."""

    def observe(self, since: Cursor | None = None) -> Observation:
        """Nodes, attempts and the events after ``since``, as of ``now()``."""
        ...

    def launch(self, spec: LaunchSpec) -> None:
        """Start the attempt; idempotent by ``spec.request_id``."""
        ...

    def stop(self, attempt_id: str, *, grace_s: float | None = None) -> None:
        """Stop the attempt: gracefully within ``grace_s`` seconds, or now when ``None``."""
        ...

    def request_checkpoint(self, attempt_id: str) -> None:
        """Ask the attempt's ranks to checkpoint soon; commits arrive as ``CheckpointCommit``s."""
        ...

    def cordon(self, node: str) -> None:
        """Refuse new launches on the node."""
        ...

    def uncordon(self, node: str) -> None:
        """Accept new launches on the node again."""
        ...

    def forget(self, attempt_id: str) -> None:
        """Stop reporting a terminal attempt (a no-op for unknown or live ones)."""
        ...

    def logs(self, attempt_id: str, rank: int) -> list[str]:
        """The rank's captured output, oldest line first (what the runtime still holds)."""
        ...

    def now(self) -> float:
        """The runtime's clock, in seconds."""
        ...

    def close(self) -> None:
        """Stop every attempt now and release the runtime's resources."""
        ...
