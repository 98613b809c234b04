"""The response to losing nodes: checkpoint in the window if it fits, then re-plan by goodput per dollar.

Owns the inputs (``AttemptView``, ``CheckpointTier``, ``CheckpointHistory``, ``InFlightCheckpoint``,
``PoolOption``, ``SpotPolicyView``, ``ResponseSettings``), the outputs (``ResponsePlan`` with its
``CheckpointDecision``, ``ReplanOption`` and ``PlannedAction`` timeline) and the three entry points:
``plan_notice_response`` (a notice arrived: there is a window), ``plan_hard_loss`` (nodes vanished
without one) and ``plan_regrow`` (capacity came back under a shrunk job). Pure: ``now`` is an argument.

How a notice is handled
-----------------------
1. *Cordon* every noticed node of the attempt (no new work lands there).
2. *Checkpoint in the window.* The window ends ``stop_margin_s`` before the deadline. A
   checkpoint costs a blocking *snapshot* (device → host memory) plus a *persist* to a tier;
   each is estimated from history — the slowest of the last few observations, times
   ``safety_factor`` — or, with no history yet, from the prior the caller derived from the perf
   model (state bytes ≈ weights + optimizer over the tier's bandwidth). Only tiers that survive
   the noticed nodes count: host memory dies with its node; peer memory survives when one of its
   peers is not noticed; remote storage always survives. The candidates, fewest lost steps
   first, then earliest commit:
   - ``checkpoint-now`` to a surviving tier (after any checkpoint in flight, which holds the
     host buffer): captures the current step, so nothing is lost;
   - ``await-running``: a checkpoint already in flight to a surviving tier finishes in time;
   - ``persist-running``: a snapshot in flight to host memory is copied on to a surviving tier;
   - ``skip``: nothing fits (or the newest durable checkpoint is current); the next attempt
     resumes from the newest durable checkpoint and the steps since are lost.
   Training stops right after the capture (``stop_at``); the persist completes while the attempt
   winds down, and ``hard_stop_at`` (the window end) bounds it.
3. *Re-plan* (``ReplanOption``), by expected useful steps per dollar over the planning horizon:
   - ``wait``: like-for-like capacity in the same pool (immediately when it has free devices;
     else after its expected wait, holding the survivors if ``hold_survivors_while_waiting``);
   - ``shrink``: keep going on the survivors with fewer data-parallel replicas (same global
     batch, so a step takes ``dp/dp'`` times longer), and grow back when capacity returns;
   - ``move``: another pool or accelerator type with free devices and a re-planned layout (the
     checkpoint reshards on restore);
   - ``on-demand``: an on-demand or reserved pool, when the spot policy allows falling back.
   Spot options are discounted by their preemption risk (expected preemptions × the time each
   one costs). With ``prefer_on_demand`` (the preemption-rate tracker tripped) non-spot options
   win whenever one is feasible; without ``spot_allowed`` spot options are dropped. Options
   within ``tie_tolerance`` of the best score are ranked by goodput.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from controlplane.runtime.types import Notice

HOUR_S = 3600.0
CheckpointAction = Literal["checkpoint-now", "await-running", "persist-running", "skip"]
ReplanKind = Literal["stay", "wait", "shrink", "move", "on-demand"]
_RECENT_OBSERVATIONS = 5


# -- inputs ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AttemptView:
    """The attempt the notice hits, as the controller knows it."""

    job_id: str
    attempt_id: str
    pool: str
    nodes: tuple[str, ...]
    devices_per_node: int
    replica_devices: int
    """Devices of one data-parallel replica (tensor × pipeline × context)."""
    data_parallel: int
    step_seconds: float
    """Observed (or estimated) seconds per step at the current size."""
    current_step: int
    price_per_device_hour: float
    capacity_type: str = "spot"
    min_data_parallel: int = 1
    total_steps: int | None = None

    @property
    def devices(self) -> int:
        return len(self.nodes) * self.devices_per_node


@dataclass(frozen=True, slots=True)
class CheckpointTier:
    """A place a checkpoint can be written to, and how long writing the state there takes."""

    name: str
    persist_seconds: float
    """Prior estimate of the persist after the snapshot (perf model: state bytes / bandwidth)."""
    survives_node_loss: bool
    peer_nodes: tuple[str, ...] = ()
    """For peer memory: the nodes holding the copy (it survives while one of them does)."""
    observed_persist_seconds: tuple[float, ...] = ()

    def survives(self, lost: frozenset[str]) -> bool:
        if not self.survives_node_loss:
            return False
        return not self.peer_nodes or any(node not in lost for node in self.peer_nodes)

    @classmethod
    def from_uri(cls, uri: str, *, persist_seconds: float, peer_nodes: Sequence[str] = (),
                 shared_filesystem: bool = False) -> CheckpointTier:
        """A tier from a checkpoint URI: ``memory://`` dies with the node, ``peer://`` survives
        through its peers, ``file://`` survives only on a shared filesystem, object stores survive."""
        scheme = uri.partition("://")[0].lower()
        survives = scheme not in ("memory", "file") or (scheme == "file" and shared_filesystem)
        return cls(uri, persist_seconds, survives, tuple(peer_nodes) if scheme == "peer" else ())


@dataclass(frozen=True, slots=True)
class InFlightCheckpoint:
    """A checkpoint that started before the notice and has not committed yet."""

    tier: str
    started_at: float
    step: int


@dataclass(frozen=True, slots=True)
class CheckpointHistory:
    snapshot_seconds: float
    """Prior estimate of the blocking device → host copy."""
    observed_snapshot_seconds: tuple[float, ...] = ()
    last_durable_step: int | None = None
    """Step of the newest committed checkpoint on a tier that survives the lost nodes."""
    last_durable_time: float | None = None
    in_flight: InFlightCheckpoint | None = None


@dataclass(frozen=True, slots=True)
class PoolOption:
    """A pool the job could run on next, priced and rated for this job."""

    name: str
    accelerator: str
    capacity_type: str
    free_devices: int
    devices_needed: int
    """Devices this job's re-planned layout needs there."""
    price_per_device_hour: float
    steps_per_second: float
    """This job's rate there (perf model, corrected online)."""
    restart_seconds: float
    """Launch, restore and reshard until the first step."""
    preemption_rate_per_node_hour: float = 0.0
    devices_per_node: int = 8
    expected_capacity_wait_s: float = 0.0
    """When it lacks free devices: how long until they are expected back (``inf``: unknown)."""

    @property
    def spot(self) -> bool:
        return self.capacity_type == "spot"


@dataclass(frozen=True, slots=True)
class SpotPolicyView:
    spot_allowed: bool = True
    fallback_to_on_demand: bool = True
    prefer_on_demand: bool = False
    """Set from the preemption-rate tracker's verdict."""
    preference_reason: str = ""


@dataclass(frozen=True, slots=True)
class ResponseSettings:
    stop_margin_s: float = 10.0
    safety_factor: float = 1.25
    planning_horizon_s: float = 2 * HOUR_S
    elastic_restart_s: float = 60.0
    """Re-forming the process groups on the survivors and restoring from peer memory."""
    preemption_loss_s: float = 120.0
    """Extra work lost per future spot preemption beyond the restart (rework, re-queueing)."""
    hold_survivors_while_waiting: bool = True
    idle_charge: float = 1.0
    """While waiting, each device of the gang not held is charged this fraction of its hourly price:
    the job's time has value, so a long wait for cheap capacity must beat running elsewhere now."""
    tie_tolerance: float = 0.05


# -- outputs -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckpointDecision:
    action: CheckpointAction
    tier: str | None
    start_at: float | None
    expected_commit_at: float | None
    captures_step: int | None
    """The step the next attempt resumes from if this goes to plan."""
    reason: str


@dataclass(frozen=True, slots=True)
class ReplanOption:
    kind: ReplanKind
    pool: str
    devices: int
    data_parallel: int | None
    expected_steps: float
    """Useful steps over the planning horizon."""
    expected_cost: float
    """Dollars over the planning horizon."""
    downtime_s: float
    reason: str

    @property
    def steps_per_dollar(self) -> float:
        return self.expected_steps / self.expected_cost if self.expected_cost > 0 else math.inf

    def steps_per_hour(self, horizon_s: float) -> float:
        return self.expected_steps * HOUR_S / horizon_s if horizon_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class PlannedAction:
    at: float
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    job_id: str
    attempt_id: str
    nodes: tuple[str, ...]
    """The attempt's nodes that are going (or gone)."""
    deadline: float | None
    cordon: tuple[str, ...]
    checkpoint: CheckpointDecision
    stop_at: float
    hard_stop_at: float
    resume_step: int
    expected_lost_steps: float
    replan: ReplanOption
    alternatives: tuple[ReplanOption, ...]
    horizon_s: float
    actions: tuple[PlannedAction, ...] = field(default=())
    reason: str = ""


# -- checkpoint estimates ----------------------------------------------------------------------

def estimate_seconds(prior: float, observed: Sequence[float], safety_factor: float) -> float:
    """Conservative duration: the slowest recent observation (else the prior) times the safety factor."""
    recent = [value for value in observed[-_RECENT_OBSERVATIONS:] if value >= 0]
    return (max(recent) if recent else prior) * safety_factor


def _persist_estimate(tier: CheckpointTier, settings: ResponseSettings) -> float:
    return estimate_seconds(tier.persist_seconds, tier.observed_persist_seconds, settings.safety_factor)


def _snapshot_estimate(history: CheckpointHistory, settings: ResponseSettings) -> float:
    return estimate_seconds(history.snapshot_seconds, history.observed_snapshot_seconds, settings.safety_factor)


def decide_checkpoint(now: float, window_end: float, attempt: AttemptView, history: CheckpointHistory,
                      tiers: Sequence[CheckpointTier], lost: frozenset[str],
                      settings: ResponseSettings) -> CheckpointDecision:
    """The checkpoint move that loses the fewest steps and commits before ``window_end``."""
    durable = history.last_durable_step
    if durable is not None and durable >= attempt.current_step:
        return CheckpointDecision("skip", None, None, None, durable,
                                  f"the newest durable checkpoint is already at step {durable}")
    by_name = {tier.name: tier for tier in tiers}
    surviving = sorted((t for t in tiers if t.survives(lost)), key=lambda t: _persist_estimate(t, settings))
    snapshot = _snapshot_estimate(history, settings)
    candidates: list[tuple[int, float, CheckpointDecision]] = []
    busy_until = now
    flight = history.in_flight
    if flight is not None:
        flight_tier = by_name.get(flight.tier)
        flight_persist = _persist_estimate(flight_tier, settings) if flight_tier else 0.0
        snapshot_done = flight.started_at + snapshot
        busy_until = max(now, snapshot_done + flight_persist)
        if flight_tier is not None and flight_tier.survives(lost) and busy_until <= window_end:
            candidates.append((flight.step, busy_until, CheckpointDecision(
                "await-running", flight.tier, flight.started_at, busy_until, flight.step,
                f"the checkpoint of step {flight.step} to {flight.tier} already in flight commits by then")))
        elif flight_tier is not None and not flight_tier.survives(lost):
            for tier in surviving:
                done = max(now, snapshot_done) + _persist_estimate(tier, settings)
                if done <= window_end:
                    candidates.append((flight.step, done, CheckpointDecision(
                        "persist-running", tier.name, max(now, snapshot_done), done, flight.step,
                        f"the snapshot of step {flight.step} in host memory (lost with the node) is copied on to "
                        f"{tier.name}")))
                    break
    for tier in surviving:
        start = busy_until
        done = start + snapshot + _persist_estimate(tier, settings)
        captured = attempt.current_step + math.floor(max(0.0, start - now) / attempt.step_seconds)
        if done <= window_end:
            candidates.append((captured, done, CheckpointDecision(
                "checkpoint-now", tier.name, start, done, captured,
                f"snapshot {snapshot:.0f}s + persist to {tier.name} {_persist_estimate(tier, settings):.0f}s "
                f"fits the {max(0.0, window_end - now):.0f}s window")))
            break
    if candidates:
        return max(candidates, key=lambda c: (c[0], -c[1]))[2]
    fastest = surviving[0] if surviving else None
    why = ("no tier survives the lost nodes" if fastest is None else
           f"the fastest surviving tier ({fastest.name}) needs "
           f"{snapshot + _persist_estimate(fastest, settings):.0f}s, the window is {max(0.0, window_end - now):.0f}s")
    return CheckpointDecision("skip", None, None, None, durable, f"no checkpoint fits: {why}")


# -- re-planning -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Segment:
    seconds: float
    steps_per_second: float
    devices: int
    price_per_device_hour: float
    spot_risk_per_hour: float = 0.0
    """Expected preemptions per hour while this segment runs."""
    loss_per_preemption_s: float = 0.0


def _evaluate(segments: Sequence[_Segment], horizon: float) -> tuple[float, float, float]:
    """Useful steps, dollars and idle seconds over ``horizon`` (segments are clipped to it)."""
    steps = cost = idle = 0.0
    remaining = horizon
    for segment in segments:
        if remaining <= 0:
            break
        length = min(max(segment.seconds, 0.0), remaining)
        if length <= 0:
            continue
        useful = max(0.0, 1.0 - segment.spot_risk_per_hour * segment.loss_per_preemption_s / HOUR_S)
        steps += segment.steps_per_second * useful * length
        cost += segment.devices * segment.price_per_device_hour * length / HOUR_S
        idle += length if segment.steps_per_second == 0 else 0.0
        remaining -= length
    return steps, cost, idle


def _risk(pool: PoolOption, devices: int) -> float:
    return pool.preemption_rate_per_node_hour * math.ceil(devices / max(pool.devices_per_node, 1)) if pool.spot else 0.0


def replan_options(now: float, attempt: AttemptView, survivors: int, pools: Sequence[PoolOption],
                   policy: SpotPolicyView, settings: ResponseSettings, ready_at: float) -> list[ReplanOption]:
    """Every feasible way forward after losing nodes, scored over the planning horizon.

    ``survivors`` counts the attempt's devices that stay; ``ready_at`` is when the old attempt
    has ended (after the checkpoint), so the new placement can start.
    """
    rate = 1.0 / attempt.step_seconds
    horizon = _horizon(attempt, settings)
    lead = max(0.0, ready_at - now)
    options: list[ReplanOption] = []
    home = next((pool for pool in pools if pool.name == attempt.pool), None)
    full = attempt.devices
    loss = settings.preemption_loss_s
    if home is not None and (policy.spot_allowed or not home.spot):
        wait = 0.0 if home.free_devices >= full - survivors else home.expected_capacity_wait_s
        if math.isfinite(wait):
            held = survivors if settings.hold_survivors_while_waiting else 0
            blended = home.price_per_device_hour * (held + settings.idle_charge * (full - held)) / max(full, 1)
            waiting = _Segment(lead + wait, 0.0, full, blended)
            risk = _risk(home, full)
            segments = [waiting,
                        _Segment(home.restart_seconds, 0.0, full, home.price_per_device_hour),
                        _Segment(math.inf, rate, full, home.price_per_device_hour, risk, home.restart_seconds + loss)]
            steps, cost, idle = _evaluate(segments, horizon)
            what = ("replace the lost nodes now" if wait == 0
                    else f"wait ~{wait / 60:.0f} min for like-for-like capacity")
            options.append(ReplanOption("wait", home.name, full, attempt.data_parallel, steps, cost, idle,
                                        f"{what} in {home.name}"))
    shrunk_dp = min(attempt.data_parallel, survivors // attempt.replica_devices)
    if shrunk_dp >= max(attempt.min_data_parallel, 1) and shrunk_dp < attempt.data_parallel and \
            (policy.spot_allowed or attempt.capacity_type != "spot"):
        devices = shrunk_dp * attempt.replica_devices
        price = attempt.price_per_device_hour
        regrow_after = home.expected_capacity_wait_s if home is not None else math.inf
        risk_per_node = home.preemption_rate_per_node_hour if home is not None and home.spot else 0.0
        per_node = max(attempt.devices_per_node, 1)
        segments = [_Segment(lead + settings.elastic_restart_s, 0.0, devices, price),
                    _Segment(regrow_after, rate * shrunk_dp / attempt.data_parallel, devices, price,
                             risk_per_node * math.ceil(devices / per_node), settings.elastic_restart_s + loss)]
        if math.isfinite(regrow_after):
            segments += [_Segment(settings.elastic_restart_s, 0.0, full, price),
                         _Segment(math.inf, rate, full, price, risk_per_node * len(attempt.nodes),
                                  settings.elastic_restart_s + loss)]
        steps, cost, idle = _evaluate(segments, horizon)
        grow = "" if not math.isfinite(regrow_after) else f", growing back in ~{regrow_after / 60:.0f} min"
        options.append(ReplanOption("shrink", attempt.pool, devices, shrunk_dp, steps, cost, idle,
                                    f"continue on the survivors with dp {attempt.data_parallel}→{shrunk_dp}{grow}"))
    options += _move_options(attempt, pools, policy, settings, horizon, lead)
    return [option for option in options if option.expected_steps > 0]


def _move_options(attempt: AttemptView, pools: Sequence[PoolOption], policy: SpotPolicyView,
                  settings: ResponseSettings, horizon: float, lead: float) -> list[ReplanOption]:
    """Restarting in each other pool with room for the job (re-planned layout, resharded restore)."""
    options: list[ReplanOption] = []
    for pool in pools:
        if pool.name == attempt.pool or pool.free_devices < pool.devices_needed or pool.steps_per_second <= 0:
            continue
        if pool.spot and not policy.spot_allowed:
            continue
        if not pool.spot and attempt.capacity_type == "spot" and not policy.fallback_to_on_demand:
            continue
        kind: ReplanKind = "move" if pool.spot else "on-demand"
        segments = [_Segment(lead + pool.restart_seconds, 0.0, pool.devices_needed, pool.price_per_device_hour),
                    _Segment(math.inf, pool.steps_per_second, pool.devices_needed, pool.price_per_device_hour,
                             _risk(pool, pool.devices_needed), pool.restart_seconds + settings.preemption_loss_s)]
        steps, cost, idle = _evaluate(segments, horizon)
        options.append(ReplanOption(kind, pool.name, pool.devices_needed, None, steps, cost, idle,
                                    f"{'move' if pool.spot else 'fall back'} to {pool.name} "
                                    f"({pool.devices_needed}× {pool.accelerator}, {pool.capacity_type})"))
    return options


def _horizon(attempt: AttemptView, settings: ResponseSettings) -> float:
    horizon = settings.planning_horizon_s
    if attempt.total_steps is not None:
        rate = 1.0 / attempt.step_seconds
        horizon = min(horizon, max(attempt.total_steps - attempt.current_step, 1) / rate + settings.elastic_restart_s)
    return horizon


def choose_option(options: Sequence[ReplanOption], pools: Sequence[PoolOption], policy: SpotPolicyView,
                  tie_tolerance: float) -> tuple[ReplanOption | None, str]:
    """The best option by steps per dollar (goodput among near-ties), honouring the spot policy."""
    spot_pools = {pool.name for pool in pools if pool.spot}
    candidates = list(options)
    note = ""
    if policy.prefer_on_demand:
        steady = [option for option in candidates if option.pool not in spot_pools]
        if steady:
            candidates = steady
            note = f" (on-demand preferred: {policy.preference_reason or 'preemption rate over the limit'})"
        else:
            note = " (on-demand preferred, but none is available)"
    if not candidates:
        return None, "no feasible option"
    best_score = max(option.steps_per_dollar for option in candidates)
    near = [o for o in candidates if o.steps_per_dollar >= best_score * (1.0 - tie_tolerance)]
    return max(near, key=lambda o: (o.expected_steps, o.steps_per_dollar)), note


# -- entry points ------------------------------------------------------------------------------

def plan_notice_response(notices: Sequence[Notice], now: float, attempt: AttemptView, history: CheckpointHistory,
                         tiers: Sequence[CheckpointTier], pools: Sequence[PoolOption],
                         policy: SpotPolicyView = SpotPolicyView(),
                         settings: ResponseSettings = ResponseSettings()) -> ResponsePlan:
    """Cordon, checkpoint in the window if it fits, stop cleanly, and choose where to go next."""
    hit = [notice for notice in notices if notice.node in attempt.nodes]
    if not hit:
        raise ValueError(f"none of the notices names a node of attempt {attempt.attempt_id}")
    deadline = min(notice.deadline for notice in hit)
    lost = frozenset(notice.node for notice in hit)
    window_end = max(now, deadline - settings.stop_margin_s)
    decision = decide_checkpoint(now, window_end, attempt, history, tiers, lost, settings)
    snapshot = _snapshot_estimate(history, settings)
    training_ends_at = now
    if decision.action == "checkpoint-now":
        assert decision.start_at is not None and decision.captures_step is not None
        training_ends_at, stop_at, resume = decision.start_at, decision.start_at + snapshot, decision.captures_step
    elif decision.captures_step is not None:
        stop_at, resume = now, decision.captures_step
    else:
        stop_at, resume = now, 0
    ready_at = decision.expected_commit_at if decision.expected_commit_at is not None else stop_at
    trained = attempt.current_step + math.floor(max(0.0, training_ends_at - now) / attempt.step_seconds)
    lost_steps = float(max(0, trained - resume))
    survivors = sum(attempt.devices_per_node for node in attempt.nodes if node not in lost)
    options = replan_options(now, attempt, survivors, pools, policy, settings, ready_at)
    best, note = choose_option(options, pools, policy, settings.tie_tolerance)
    chosen = best or _stay_down(attempt, survivors)
    actions = [PlannedAction(now, "cordon", ", ".join(sorted(lost)))]
    if decision.action != "skip" and decision.start_at is not None:
        actions.append(PlannedAction(decision.start_at, decision.action, f"{decision.tier}, step {resume}"))
    actions += [PlannedAction(stop_at, "stop", f"graceful, hard stop at the window end (+{window_end - stop_at:.0f}s)"),
                PlannedAction(ready_at, "replan", chosen.reason)]
    reason = (f"{hit[0].kind} notice for {', '.join(sorted(lost))}, {deadline - now:.0f}s to go: "
              f"{decision.reason}; expect {lost_steps:.0f} lost steps; then {chosen.reason}{note}")
    return ResponsePlan(attempt.job_id, attempt.attempt_id, tuple(sorted(lost)), deadline, tuple(sorted(lost)),
                        decision, stop_at, window_end, resume, lost_steps, chosen,
                        tuple(o for o in options if o is not chosen), settings.planning_horizon_s,
                        tuple(sorted(actions, key=lambda a: a.at)), reason)


def plan_hard_loss(lost_nodes: Sequence[str], now: float, attempt: AttemptView, history: CheckpointHistory,
                   pools: Sequence[PoolOption], policy: SpotPolicyView = SpotPolicyView(),
                   settings: ResponseSettings = ResponseSettings()) -> ResponsePlan:
    """Nodes vanished without notice: resume from the newest durable checkpoint and re-plan."""
    lost = frozenset(node for node in lost_nodes if node in attempt.nodes)
    if not lost:
        raise ValueError(f"none of the lost nodes hosts attempt {attempt.attempt_id}")
    resume = history.last_durable_step or 0
    lost_steps = float(max(0, attempt.current_step - resume))
    survivors = sum(attempt.devices_per_node for node in attempt.nodes if node not in lost)
    options = replan_options(now, attempt, survivors, pools, policy, settings, now)
    best, note = choose_option(options, pools, policy, settings.tie_tolerance)
    chosen = best or _stay_down(attempt, survivors)
    decision = CheckpointDecision("skip", None, None, None, resume, "no notice: nothing could be saved")
    reason = (f"lost {', '.join(sorted(lost))} without notice: resume from step {resume} "
              f"({lost_steps:.0f} steps lost); then {chosen.reason}{note}")
    actions = (PlannedAction(now, "attempt-lost", ", ".join(sorted(lost))), PlannedAction(now, "replan", chosen.reason))
    return ResponsePlan(attempt.job_id, attempt.attempt_id, tuple(sorted(lost)), None, tuple(sorted(lost)), decision,
                        now, now, resume, lost_steps, chosen, tuple(o for o in options if o is not chosen),
                        settings.planning_horizon_s, actions, reason)


def _stay_down(attempt: AttemptView, survivors: int) -> ReplanOption:
    return ReplanOption("wait", attempt.pool, attempt.devices, attempt.data_parallel, 0.0, 0.0, math.inf,
                        "no capacity anywhere the policy allows: wait for the pool to come back")


@dataclass(frozen=True, slots=True)
class RegrowDecision:
    grow: bool
    data_parallel: int
    devices: int
    reason: str


def plan_regrow(attempt: AttemptView, free_devices: int, target_data_parallel: int,
                settings: ResponseSettings = ResponseSettings()) -> RegrowDecision:
    """Whether a shrunk job should restart bigger now that ``free_devices`` are back in its pool.

    Grows when the extra steps over the planning horizon outweigh the steps the elastic restart
    costs (the job stands still for ``elastic_restart_s``).
    """
    possible = min(target_data_parallel, attempt.data_parallel + free_devices // attempt.replica_devices)
    if possible <= attempt.data_parallel:
        return RegrowDecision(False, attempt.data_parallel, attempt.devices,
                              f"{free_devices} free devices make no extra replica of {attempt.replica_devices}")
    rate = 1.0 / attempt.step_seconds
    horizon = settings.planning_horizon_s
    if attempt.total_steps is not None:
        horizon = min(horizon, max(attempt.total_steps - attempt.current_step, 0) / rate)
    grown_rate = rate * possible / attempt.data_parallel
    stay = rate * horizon
    grow = grown_rate * max(0.0, horizon - settings.elastic_restart_s)
    devices = possible * attempt.replica_devices
    if grow > stay:
        return RegrowDecision(True, possible, devices, f"dp {attempt.data_parallel}→{possible}: {grow - stay:.0f} more "
                                                        f"steps over {horizon / 60:.0f} min despite the restart")
    return RegrowDecision(False, attempt.data_parallel, attempt.devices,
                          f"growing to dp {possible} would not repay its {settings.elastic_restart_s:.0f}s restart")


def plan_rebalance(attempt: AttemptView, pools: Sequence[PoolOption], policy: SpotPolicyView = SpotPolicyView(),
                   settings: ResponseSettings = ResponseSettings()) -> tuple[ReplanOption, str]:
    """Stay where the job runs, or restart elsewhere (e.g. back to spot once it returns)?

    Staying costs no restart; moving pays its pool's restart. Same scoring and policy rules as
    after a loss (so with ``prefer_on_demand`` a job on on-demand stays there).
    """
    horizon = _horizon(attempt, settings)
    home = next((pool for pool in pools if pool.name == attempt.pool), None)
    risk = _risk(home, attempt.devices) if home is not None else 0.0
    steps, cost, idle = _evaluate([_Segment(math.inf, 1.0 / attempt.step_seconds, attempt.devices,
                                            attempt.price_per_device_hour, risk,
                                            settings.elastic_restart_s + settings.preemption_loss_s)], horizon)
    stay = ReplanOption("stay", attempt.pool, attempt.devices, attempt.data_parallel, steps, cost, idle,
                        f"stay on {attempt.pool}")
    moves = _move_options(attempt, pools, policy, settings, horizon, 0.0)
    options = [stay, *(option for option in moves if option.expected_steps > 0)]
    best, note = choose_option(options, pools, policy, settings.tie_tolerance)
    return best or stay, note
