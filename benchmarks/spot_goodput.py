"""Spot goodput on real traces: periodic checkpoint + full restart vs Suanli without and with notices.

Claim (issue 8): replaying public spot traces, Suanli *with notices* reaches at least 1.5× the
goodput (useful steps per hour) of periodic checkpoint-restart with full restart, at no more
than half the cost per useful step of on-demand capacity.

One long data-parallel training job runs on a spot pool whose nodes come and go as a trace says
(``controlplane.spot.replay`` turns each trace into node removals, returns and — for (c) —
notices ``warning_s`` before each removal). Four ways to run it:

(a) ``periodic+restart``: the baseline most systems use — a fixed gang of N nodes, a blocking
    checkpoint to remote storage every Young/Daly interval, and on any node loss a full restart
    from the last checkpoint once N nodes are up again.
(b) ``suanli, no notice``: the real ``controlplane.resilience`` policies on hard losses —
    two-tier checkpoints (a blocking snapshot to host memory, persisted asynchronously to peer
    memory on the next node of a ring and, every ~30 min, to remote storage; the interval from
    ``checkpoint_interval.choose_interval``), resume from the newest surviving tier
    (``spot_response.plan_hard_loss``), re-plan among replace / wait / shrink data parallelism /
    on-demand fallback, grow back (``plan_regrow``), return to spot (``plan_rebalance``).
(c) ``suanli, notices``: (b) plus the cloud's warning (120 s AWS, 30 s GCP): a just-in-time
    checkpoint to a surviving tier and a clean stop (``plan_notice_response``).
(d) ``on-demand``: N on-demand nodes for the whole run.

Job and costs: a GPT-3-XL-shaped model (1.4 B parameters; 0.4 B on one-GPU nodes) in FP16 with
ZeRO-1, the same global batch at every size; step time per data-parallel size from
``controlplane.perfmodel.estimate_step`` with the instance's network; checkpoint state =
weights (2 B/param) + FP32 master weights and Adam moments (12 B/param, the perf model's
``ADAM_BYTES_PER_PARAM``). Bandwidth and restart figures are stated assumptions (printed).
Prices: ``controlplane.catalog`` — on-demand $/device-hour of the cheapest offer, spot = on-demand
× (1 − the catalog's median spot discount for that accelerator).

Run: ``.venv/bin/python benchmarks/spot_goodput.py [--quick] [--traces DIR]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from controlplane.catalog import PriceCatalog, get_accelerator
from controlplane.perfmodel import Layout, ModelShape, as_device, estimate_step, parameter_counts
from controlplane.perfmodel.memory import ADAM_BYTES_PER_PARAM
from controlplane.resilience.checkpoint_interval import CheckpointCosts, InterruptionRate, choose_interval
from controlplane.resilience.preemption_policy import PreemptionRateTracker
from controlplane.resilience.spot_response import (
    AttemptView,
    CheckpointHistory,
    CheckpointTier,
    InFlightCheckpoint,
    PoolOption,
    ReplanOption,
    ResponseSettings,
    SpotPolicyView,
    choose_option,
    plan_hard_loss,
    plan_notice_response,
    plan_rebalance,
    plan_regrow,
    replan_options,
)
from controlplane.runtime.types import Notice
from controlplane.simulator.spot import NodeChange, read_availability_trace
from controlplane.spot.replay import TraceEvent, plan_replay, read_count_trace, read_event_trace_slots

REPO = Path(__file__).resolve().parents[1]
SHARED_TRACES = REPO.parent / "shared" / "data" / "spot_traces"
LOCAL_TRACES = REPO / "tests" / "data" / "spot_traces"

# -- stated assumptions ------------------------------------------------------------------------
PCIE_BYTES_PER_S = 10e9          # device → host snapshot, per device (PCIe gen3 x16 ≈ 12 GB/s peak)
REMOTE_BYTES_PER_S_PER_NODE = 0.5e9   # object-store write/read per node, multipart
NETWORK_EFFICIENCY = 0.8         # of the instance's network for peer copies
RESTART_S = 90.0                 # launch processes, import, NCCL init, data loader — every policy
REMOTE_EVERY_S = 1800.0          # (b)/(c): persist to remote storage about every 30 min
PRIOR_RATE_PER_NODE_HOUR = 0.1   # preemption rate before any is observed
PRIOR_OUTAGE_S = 1800.0          # expected wait for a full gang before any shortage is observed
MARGIN_S = 10.0
TARGET_GOODPUT_RATIO = 1.5
TARGET_COST_RATIO = 0.5


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    fmt: str
    """``events`` (Bamboo), ``counts`` (Bamboo GCP), ``availability`` (Can't Be Late)."""
    cloud: str
    accelerator: str
    instance: str
    devices_per_node: int
    network_gbps: float
    pool_nodes: int
    job_nodes: int
    warning_s: float
    small_model: bool = False


CASES = (
    Case("bamboo p3 (AWS)", "bamboo_nsdi23/traces/p3-trace.csv", "events", "aws", "V100", "p3.2xlarge", 1, 10,
         32, 24, 120.0),
    Case("bamboo g4dn (AWS)", "bamboo_nsdi23/traces/g4dn-trace.csv", "events", "aws", "T4", "g4dn.xlarge", 1, 25,
         17, 12, 120.0),
    Case("bamboo a100x1 (GCP)", "bamboo_nsdi23/traces/gcloud/a100x1-east1b.txt", "counts", "gcp", "A100-40GB",
         "a2-highgpu-1g", 1, 24, 64, 56, 30.0),
    Case("bamboo v100x1 (GCP)", "bamboo_nsdi23/traces/gcloud/v100x1-east1c.txt", "counts", "gcp", "V100",
         "n1+1xV100", 1, 16, 80, 72, 30.0),
    Case("CBL avail. us-west-2a v100x8",
         "cant_be_late_nsdi24/availability/1-node/aws-10-26-2022/us-west-2a_v100_8.json", "availability", "aws",
         "V100", "p3.16xlarge", 8, 25, 1, 1, 120.0),
    Case("CBL preempt. us-east-1c v100x1",
         "cant_be_late_nsdi24/preemption/1-node/aws-04-22-2023/us-east-1c_v100_1.json", "availability", "aws",
         "V100", "p3.2xlarge", 1, 10, 1, 1, 120.0, small_model=True),
)
FALLBACK_FILES = {"bamboo_nsdi23/traces/p3-trace.csv": "bamboo_p3-trace.csv",
                  "cant_be_late_nsdi24/availability/1-node/aws-10-26-2022/us-west-2a_v100_1.json":
                      "cant_be_late_us-west-2a_v100_1.json"}


# -- the job -----------------------------------------------------------------------------------

@dataclass
class Job:
    case: Case
    rate: dict[int, float]
    """Nodes → steps per second."""
    state_bytes: float
    model: str

    def snapshot_s(self, nodes: int) -> float:
        return self.state_bytes / (nodes * self.case.devices_per_node) / PCIE_BYTES_PER_S

    def peer_s(self, nodes: int) -> float:
        return self.state_bytes / nodes / (self.case.network_gbps * 1e9 / 8 * NETWORK_EFFICIENCY)

    def remote_s(self, nodes: int) -> float:
        return self.state_bytes / nodes / REMOTE_BYTES_PER_S_PER_NODE


def build_job(case: Case) -> Job:
    if case.small_model:
        model = ModelShape(layers=24, hidden_size=1024, attention_heads=16, sequence_length=2048, vocab_size=50257,
                           gated_mlp=False, precision="fp16", name="gpt3-medium-0.4b")
    else:
        model = ModelShape(layers=24, hidden_size=2048, attention_heads=16, sequence_length=2048, vocab_size=50257,
                           gated_mlp=False, precision="fp16", name="gpt3-xl-1.4b")
    device = dataclasses.replace(as_device(get_accelerator(case.accelerator)), devices_per_node=case.devices_per_node,
                                 scale_out_gbit_per_s=case.network_gbps / case.devices_per_node)
    global_batch = 512
    rate: dict[int, float] = {}
    for nodes in range(1, case.job_nodes + 1):
        dp = nodes * case.devices_per_node
        layout = Layout(dp=dp, micro_batch_size=1, micro_batches=math.ceil(global_batch / dp),
                        activation_recompute="full")
        rate[nodes] = 1.0 / estimate_step(model, layout, device).step_seconds
    parameters = parameter_counts(model).total
    return Job(case, rate, parameters * (2.0 + ADAM_BYTES_PER_PARAM), f"{model.name} ({parameters / 1e9:.1f} B)")


@dataclass(frozen=True)
class Prices:
    spot: float
    on_demand: float
    note: str


def prices_for(catalog: PriceCatalog, case: Case) -> Prices:
    offers = catalog.offers(case.accelerator, spot=False, clouds=[case.cloud])
    where = case.cloud
    if not offers:  # the catalog has no such offer on this cloud: price it like AWS
        offers, where = catalog.offers(case.accelerator, spot=False, clouds=["aws"]), f"no {case.cloud} offer: AWS"
    on_demand = offers[0].per_device_hour(spot=False)
    assert on_demand is not None
    discount = catalog.spot_discount(case.accelerator, cloud=case.cloud)
    discount_where = case.cloud
    if discount is None:
        discount, discount_where = catalog.spot_discount(case.accelerator), "all clouds"
    assert discount is not None
    return Prices(on_demand * (1 - discount), on_demand,
                  f"on-demand {offers[0].label} ${on_demand:.3f}/dev-h ({where}); spot = −{discount:.0%} "
                  f"(median discount, {discount_where})")


def load_changes(case: Case, traces: Path) -> tuple[list[NodeChange], float, str]:
    path = traces / case.path
    if not path.exists() and case.path in FALLBACK_FILES:
        path = LOCAL_TRACES / FALLBACK_FILES[case.path]
    text = path.read_text(encoding="utf-8")
    if case.fmt == "events":
        changes = read_event_trace_slots(text, pool_nodes=case.pool_nodes, source=str(path))
        duration = max(change.time for change in changes)
    elif case.fmt == "counts":
        changes = read_count_trace(text, pool_nodes=case.pool_nodes, source=str(path))
        duration = max(change.time for change in changes)
    else:
        document = json.loads(text)
        changes = read_availability_trace(text, pool_nodes=case.pool_nodes, source=str(path))
        duration = len(document["data"]) * float(document["metadata"]["gap_seconds"])
    return changes, duration, case.path if path.is_relative_to(traces) else str(path.relative_to(REPO))


# -- the replay --------------------------------------------------------------------------------

@dataclass
class Outcome:
    policy: str
    steps: float = 0.0
    cost: float = 0.0
    lost_steps: float = 0.0
    interruptions: int = 0
    jit_checkpoints: int = 0
    on_demand_hours: float = 0.0
    hours: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def goodput(self) -> float:
        return self.steps / self.hours

    @property
    def cost_per_kstep(self) -> float:
        return self.cost / self.steps * 1000 if self.steps > 0 else math.inf


class Replay:
    """One policy over one trace (a small discrete-event loop; decisions come from ``resilience``)."""

    def __init__(self, case: Case, job: Job, prices: Prices, changes: Sequence[NodeChange], duration: float,
                 policy: str) -> None:
        self.case, self.job, self.prices, self.duration, self.policy = case, job, prices, duration, policy
        self.suanli = policy != "a"
        self.names = [f"n{i}" for i in range(case.pool_nodes)]
        events = plan_replay(changes, self.names, warning_s=case.warning_s if policy == "c" else 0.0)
        self.queue: list[tuple[float, int, str, object]] = []
        self.sequence = itertools.count()
        for event in events:
            self._push(event.time, "trace", event)
        self._push(0.0, "kick", None)  # after the trace's initial state
        self._push(duration, "end", None)
        self.now = 0.0
        self.up: set[str] = set(self.names)
        self.doomed: set[str] = set()
        self.short_since: float | None = None
        self.outages: list[float] = []
        self.removals = 0
        self.node_seconds = 0.0
        # the job
        self.where: str | None = None       # "spot", "od" or None (waiting)
        self.nodes: tuple[str, ...] = ()
        self.size = 0
        self.phase = "down"                 # down, restart, train, snapshot, drain
        self.epoch = 0
        self.steps = 0.0
        self.peer: tuple[int, tuple[str, ...]] | None = None   # (step, ring) of the newest peer commit
        self.remote_step = 0
        self.in_flight: InFlightCheckpoint | None = None
        self.last_remote_at = 0.0
        self.interval = 600.0
        self.out = Outcome(policy, hours=duration / 3600.0)
        self.tracker = PreemptionRateTracker(default_limit=None)
        self.settings = ResponseSettings(stop_margin_s=MARGIN_S, hold_survivors_while_waiting=False,
                                         elastic_restart_s=RESTART_S)
        self.pending_choice: ReplanOption | None = None

    # -- bookkeeping ---------------------------------------------------------------------------

    def _push(self, at: float, kind: str, payload: object) -> None:
        heapq.heappush(self.queue, (at, next(self.sequence), kind, payload))

    def _advance(self, to: float) -> None:
        dt = to - self.now
        if dt <= 0:
            return
        self.node_seconds += len(self.up) * dt
        if self.where is not None and self.phase != "down":
            price = self.prices.spot if self.where == "spot" else self.prices.on_demand
            self.out.cost += self.size * self.case.devices_per_node * price * dt / 3600.0
            if self.where == "od":
                self.out.on_demand_hours += dt / 3600.0
            if self.phase == "train":
                self.steps += self.job.rate[self.size] * dt
        self.now = to

    def _rate_per_node_hour(self) -> float:
        hours = self.node_seconds / 3600.0
        return (self.removals + PRIOR_RATE_PER_NODE_HOUR * 10) / (hours + 10)

    def _expected_wait(self) -> float:
        """Mean length of the past episodes with fewer nodes up than the job needs (a prior before any)."""
        recent = self.outages[-20:]
        return sum(recent) / len(recent) if recent else PRIOR_OUTAGE_S

    def _track_shortage(self) -> None:
        short = len(self.up) < self.case.job_nodes
        if short and self.short_since is None:
            self.short_since = self.now
        elif not short and self.short_since is not None:
            if self.now > 0:
                self.outages.append(self.now - self.short_since)
            self.short_since = None

    def _free(self) -> list[str]:
        used = set(self.nodes) if self.where == "spot" else set()
        return sorted((n for n in self.up if n not in used and n not in self.doomed), key=lambda n: int(n[1:]))

    # -- starting and stopping -----------------------------------------------------------------

    def _start(self, where: str, nodes: Sequence[str], size: int, restore_s: float) -> None:
        self.epoch += 1
        self.where, self.nodes, self.size = where, tuple(nodes), size
        self.phase = "restart"
        self.in_flight = None
        if self.suanli and where == "spot":  # the restore re-creates the peer copies of the resumed state
            self.peer = (int(self.steps), self.nodes)
        self._push(self.now + RESTART_S + restore_s, "ready", self.epoch)
        steps_rate = self.job.rate[size]
        if self.suanli:
            choice = choose_interval(CheckpointCosts(self.job.snapshot_s(size), self.job.peer_s(size), RESTART_S),
                                     InterruptionRate(self._rate_per_node_hour() if where == "spot" else 0.0,
                                                      nodes=size))
        else:
            blocking = self.job.snapshot_s(size) + self.job.remote_s(size)
            choice = choose_interval(CheckpointCosts(blocking, 0.0, RESTART_S),
                                     InterruptionRate(self._rate_per_node_hour(), nodes=size))
        self.interval = max(choice.interval_s, 1.0 / steps_rate)

    def _stop(self) -> None:
        self.epoch += 1
        self.where, self.nodes, self.size, self.phase = None, (), 0, "down"
        self.in_flight = None

    def _rollback(self, to_step: float) -> None:
        self.out.lost_steps += max(0.0, self.steps - to_step)
        self.steps = min(self.steps, to_step)

    def _durable_step(self, lost: set[str]) -> int:
        step = self.remote_step
        if self.peer is not None:
            peer_step, ring = self.peer
            if all(ring[(ring.index(n) + 1) % len(ring)] not in lost for n in lost if n in ring) and len(ring) > 1:
                step = max(step, peer_step)
        return step

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> Outcome:
        while self.queue:
            at, _, kind, payload = heapq.heappop(self.queue)
            if at > self.duration:
                break
            self._advance(at)
            if kind == "end":
                break
            if kind == "trace":
                batch = [payload]
                while self.queue and self.queue[0][0] == at and self.queue[0][2] == "trace":
                    batch.append(heapq.heappop(self.queue)[3])
                self._on_trace([e for e in batch if isinstance(e, TraceEvent)])
            else:
                self._on_job_event(kind, payload)
        self._advance(self.duration)
        self.out.steps = self.steps
        return self.out

    def _on_trace(self, events: list[TraceEvent]) -> None:
        notices = [e for e in events if e.kind == "notice"]
        removed = {e.node for e in events if e.kind == "remove"}
        added = {e.node for e in events if e.kind == "add"}
        if notices:
            self._on_notices(notices)
        for node in removed:
            self.up.discard(node)
            self.doomed.discard(node)
        # nodes taken at the same instant interrupt a gang once; the trace's initial state is no preemption
        self.removals += bool(removed) and self.now > 0
        self.up.update(added)
        self._track_shortage()
        hit = removed & set(self.nodes) if self.where == "spot" else set()
        if hit:
            self._on_hard_loss(hit)
        if added or (removed and self.where is None):
            self._on_capacity()

    def _on_job_event(self, kind: str, payload: object) -> None:
        if kind == "ready" and payload == self.epoch:
            self.phase = "train"
            self._push(self.now + self.interval, "checkpoint", self.epoch)
        elif kind == "checkpoint" and payload == self.epoch and self.phase == "train":
            self.phase = "snapshot"
            blocking = self.job.snapshot_s(self.size) + (0.0 if self.suanli else self.job.remote_s(self.size))
            self._push(self.now + blocking, "snapshot-done", (self.epoch, int(self.steps)))
        elif kind == "snapshot-done":
            epoch, step = cast(tuple[int, int], payload)
            if epoch != self.epoch:
                return
            self.phase = "train"
            self._push(self.now + self.interval, "checkpoint", self.epoch)
            if not self.suanli:
                self.remote_step = step
                return
            self.in_flight = InFlightCheckpoint("peer://", self.now - self.job.snapshot_s(self.size), step)
            self._push(self.now + self.job.peer_s(self.size), "commit", (self.epoch, "peer", step, self.nodes))
            if self.now - self.last_remote_at >= REMOTE_EVERY_S:
                self.last_remote_at = self.now
                self._push(self.now + self.job.remote_s(self.size), "commit", (self.epoch, "remote", step, ()))
        elif kind == "commit":
            epoch, tier, step, ring = cast(tuple[int, str, int, tuple[str, ...]], payload)
            if epoch != self.epoch and tier != "jit-remote" and tier != "jit-peer":
                return
            if tier in ("remote", "jit-remote"):
                self.remote_step = max(self.remote_step, step)
            else:
                self.peer = (step, ring) if self.peer is None or step >= self.peer[0] else self.peer
            if epoch == self.epoch:
                self.in_flight = None
        elif kind == "resume" and payload == self.epoch:
            self._resume_by_choice()
        elif kind == "kick":
            self._on_capacity()

    # -- Suanli's decisions --------------------------------------------------------------------

    def _attempt(self, nodes: Sequence[str] | None = None) -> AttemptView:
        size = self.size or self.case.job_nodes
        names = tuple(nodes if nodes is not None else self.nodes) or tuple(f"x{i}" for i in range(size))
        return AttemptView(job_id="job", attempt_id=f"a{self.epoch}", pool="spot" if self.where != "od" else "od",
                           nodes=names,
                           devices_per_node=self.case.devices_per_node, replica_devices=self.case.devices_per_node,
                           data_parallel=size, step_seconds=1.0 / self.job.rate[size], current_step=int(self.steps),
                           price_per_device_hour=self.prices.spot if self.where != "od" else self.prices.on_demand,
                           capacity_type="spot" if self.where != "od" else "on-demand")

    def _pools(self, free_spot_nodes: int) -> list[PoolOption]:
        full = self.case.job_nodes
        dpn = self.case.devices_per_node
        spot_nodes = max(1, min(full, free_spot_nodes))
        return [PoolOption("spot", self.case.accelerator, "spot", free_spot_nodes * dpn, spot_nodes * dpn,
                           self.prices.spot, self.job.rate[spot_nodes], RESTART_S + self.job.remote_s(spot_nodes),
                           self._rate_per_node_hour(), dpn, self._expected_wait()),
                PoolOption("od", self.case.accelerator, "on-demand", 10**6, full * dpn, self.prices.on_demand,
                           self.job.rate[full], RESTART_S + self.job.remote_s(full), 0.0, dpn)]

    def _settings(self) -> ResponseSettings:
        """Rework per future preemption: about the capture margin with notices, half an interval without."""
        rework = MARGIN_S if self.policy == "c" else self.interval / 2
        return dataclasses.replace(self.settings, preemption_loss_s=rework)

    def _policy(self) -> SpotPolicyView:
        verdict = self.tracker.verdict_for(self.now, job_id="job")
        return SpotPolicyView(prefer_on_demand=verdict.prefer_on_demand, preference_reason=verdict.reason)

    def _on_notices(self, notices: list[TraceEvent]) -> None:
        self.doomed.update(e.node for e in notices)
        ours = [e for e in notices if self.where == "spot" and e.node in self.nodes]
        if not ours or self.phase in ("down", "drain"):
            return
        lost = {e.node for e in ours}
        ring = self.nodes
        peer_ok = len(ring) > 1 and all(ring[(ring.index(n) + 1) % len(ring)] not in lost for n in lost)
        tiers = [CheckpointTier("memory://", 0.0, False),
                 CheckpointTier("peer://", self.job.peer_s(self.size), peer_ok),
                 CheckpointTier("s3://ckpt/job", self.job.remote_s(self.size), True)]
        history = CheckpointHistory(self.job.snapshot_s(self.size), (self.job.snapshot_s(self.size),),
                                    self._durable_step(lost), None, self.in_flight)
        free = len([n for n in self._free() if n not in lost])
        plan = plan_notice_response([Notice(e.node, "preemption", e.deadline or self.now, "trace") for e in ours],
                                    self.now, self._attempt(), history, tiers, self._pools(free), self._policy(),
                                    self._settings())
        self.tracker.record(self.now, job_id="job", pool="spot")
        self.out.interruptions += 1
        decision = plan.checkpoint
        captured = plan.resume_step
        if decision.action == "checkpoint-now" and decision.tier is not None:
            self.out.jit_checkpoints += 1
            tier = "jit-peer" if decision.tier.startswith("peer") else "jit-remote"
            persist = self.job.peer_s(self.size) if tier == "jit-peer" else self.job.remote_s(self.size)
            start = decision.start_at or self.now
            self._advance(start)  # training continues until the capture (only if a persist was in flight)
            captured = int(self.steps)
            self._push(start + self.job.snapshot_s(self.size) + persist, "commit", (self.epoch, tier, captured, ring))
        self._rollback(captured)
        self.phase = "drain"
        self.pending_choice = plan.replan
        ready = max(self.now, decision.expected_commit_at or self.now)
        self._push(ready, "resume", self.epoch)

    def _on_hard_loss(self, lost: set[str]) -> None:
        self.out.interruptions += 1
        if not self.suanli:
            self._rollback(self.remote_step)
            self._stop()
            self._try_start()
            return
        self.tracker.record(self.now, job_id="job", pool="spot")
        history = CheckpointHistory(self.job.snapshot_s(self.size), (), self._durable_step(lost), None, None)
        plan = plan_hard_loss(sorted(lost), self.now, self._attempt(), history, self._pools(len(self._free())),
                              self._policy(), self._settings())
        self._rollback(plan.resume_step)
        self.pending_choice = plan.replan
        self._resume_by_choice()

    def _resume_by_choice(self) -> None:
        choice = self.pending_choice
        assert choice is not None
        survivors = [n for n in self.nodes if n in self.up and n not in self.doomed] if self.where == "spot" else []
        self._stop()
        free = self._free()
        full = self.case.job_nodes
        if choice.kind == "on-demand":
            self._start("od", (), full, self.job.remote_s(full))
        elif choice.kind == "shrink" and survivors:
            size = max(1, min(len(survivors), (choice.devices or 0) // self.case.devices_per_node))
            self._start("spot", survivors[:size], size, self.job.peer_s(size))
        elif choice.kind in ("wait", "move") and len(survivors) + len(free) >= full:
            nodes = (survivors + [n for n in free if n not in survivors])[:full]
            self._start("spot", nodes, full, self.job.peer_s(full) if survivors else self.job.remote_s(full))

    def _on_capacity(self) -> None:
        """Nodes came back (or the job is waiting): start, grow, or return to spot."""
        full = self.case.job_nodes
        free = self._free()
        if not self.suanli:
            self._try_start()
            return
        if self.where is None:
            if len(free) >= full:
                self._start("spot", free[:full], full, self.job.remote_s(full))
                return
            attempt = self._attempt([f"x{i}" for i in range(full)])
            options = replan_options(self.now, attempt, len(free) * self.case.devices_per_node,
                                     self._pools(0), self._policy(), self._settings(), self.now)
            best, _ = choose_option(options, self._pools(0), self._policy(), self.settings.tie_tolerance)
            if best is not None and best.kind == "shrink" and free:
                size = min(len(free), (best.devices // self.case.devices_per_node))
                self._start("spot", free[:size], size, self.job.remote_s(size))
            elif best is not None and best.kind == "on-demand":
                self._start("od", (), full, self.job.remote_s(full))
        elif self.where == "spot" and self.size < full and self.phase in ("train", "snapshot") and free:
            decision = plan_regrow(self._attempt(), len(free) * self.case.devices_per_node, full, self._settings())
            if decision.grow:
                size = decision.data_parallel
                nodes = [*self.nodes, *free][:size]
                self._stop()
                self._start("spot", nodes, size, self.job.peer_s(size))
        elif self.where == "od" and self.phase in ("train", "snapshot") and free:
            choice, _ = plan_rebalance(self._attempt(), self._pools(len(free)), self._policy(), self._settings())
            if choice.kind == "move":
                size = choice.devices // self.case.devices_per_node
                self._stop()
                self._start("spot", free[:size], size, self.job.remote_s(size))

    def _try_start(self) -> None:
        """The baseline: a full gang of N spot nodes or nothing."""
        if self.where is not None:
            return
        free = self._free()
        if len(free) >= self.case.job_nodes:
            self._start("spot", free[:self.case.job_nodes], self.case.job_nodes, self.job.remote_s(self.case.job_nodes))


def on_demand_only(case: Case, job: Job, prices: Prices, duration: float) -> Outcome:
    full = case.job_nodes
    blocking = job.snapshot_s(full) + job.remote_s(full)
    interval = choose_interval(CheckpointCosts(blocking, 0.0, RESTART_S), InterruptionRate(0.0, nodes=full)).interval_s
    training = max(0.0, duration - RESTART_S - job.remote_s(full))
    steps = job.rate[full] * training * interval / (interval + blocking)
    cost = full * case.devices_per_node * prices.on_demand * duration / 3600.0
    return Outcome("d", steps=steps, cost=cost, on_demand_hours=duration / 3600.0, hours=duration / 3600.0)


# -- the report --------------------------------------------------------------------------------

LABELS = {"a": "(a) periodic+restart", "b": "(b) suanli, no notice", "c": "(c) suanli, notices", "d": "(d) on-demand"}


def run_case(case: Case, traces: Path, catalog: PriceCatalog, max_hours: float | None) -> list[str]:
    changes, duration, shown = load_changes(case, traces)
    if max_hours is not None:
        duration = min(duration, max_hours * 3600.0)
    job = build_job(case)
    prices = prices_for(catalog, case)
    outcomes = {policy: Replay(case, job, prices, changes, duration, policy).run() for policy in "abc"}
    outcomes["d"] = on_demand_only(case, job, prices, duration)
    lines = [f"### {case.name} — `{shown}`", "",
             f"{duration / 3600:.1f} h; pool {case.pool_nodes}× {case.instance} ({case.devices_per_node}× "
             f"{case.accelerator}), job {case.job_nodes} nodes; {job.model}; notice "
             f"{case.warning_s:.0f} s; {prices.note}", "",
             "| policy | goodput (steps/h) | cost ($) | $ per 1k steps | lost steps | interruptions "
             "| JIT ckpts | on-demand h |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in "abcd":
        o = outcomes[key]
        lines.append(f"| {LABELS[key]} | {o.goodput:.1f} | {o.cost:,.0f} | {o.cost_per_kstep:,.2f} | "
                     f"{o.lost_steps:,.0f} | {o.interruptions} | {o.jit_checkpoints} | {o.on_demand_hours:.1f} |")
    goodput_ratio = outcomes["c"].goodput / outcomes["a"].goodput if outcomes["a"].goodput > 0 else math.inf
    cost_ratio = outcomes["c"].cost_per_kstep / outcomes["d"].cost_per_kstep
    lines += ["", f"- goodput (c)/(a): **{goodput_ratio:.2f}×** (target ≥ {TARGET_GOODPUT_RATIO}×: "
                  f"{'met' if goodput_ratio >= TARGET_GOODPUT_RATIO else 'NOT met'}); (b)/(a): "
                  f"{outcomes['b'].goodput / outcomes['a'].goodput if outcomes['a'].goodput > 0 else math.inf:.2f}×",
              f"- cost per step (c)/(d): **{cost_ratio:.2f}** (target ≤ {TARGET_COST_RATIO}: "
              f"{'met' if cost_ratio <= TARGET_COST_RATIO else 'NOT met'})", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two traces, first 12 hours")
    parser.add_argument("--traces", type=Path, default=SHARED_TRACES, help="the spot_traces directory")
    arguments = parser.parse_args(argv)
    traces: Path = arguments.traces
    cases: tuple[Case, ...] = CASES
    if not traces.exists():
        print(f"note: {traces} not found; using the copies in {LOCAL_TRACES} (Bamboo p3, CBL us-west-2a v100x1)",
              file=sys.stderr)
        cases = (CASES[0], dataclasses.replace(
            CASES[4], name="CBL avail. us-west-2a v100x1", instance="p3.2xlarge", devices_per_node=1, network_gbps=10,
            small_model=True, path="cant_be_late_nsdi24/availability/1-node/aws-10-26-2022/us-west-2a_v100_1.json"))
    if arguments.quick:
        cases = cases[:2]
    started = time.perf_counter()
    catalog = PriceCatalog.load_default()
    lines = ["## Spot goodput on real traces", "",
             f"Assumptions: snapshot {PCIE_BYTES_PER_S / 1e9:.0f} GB/s per device; remote storage "
             f"{REMOTE_BYTES_PER_S_PER_NODE / 1e9:.1f} GB/s per node; peer copies at {NETWORK_EFFICIENCY:.0%} of the "
             f"instance network; restart {RESTART_S:.0f} s + restore for every policy; (b)/(c) persist to remote every "
             f"{REMOTE_EVERY_S / 60:.0f} min; preemption-rate prior {PRIOR_RATE_PER_NODE_HOUR}/node-h, capacity-wait "
             f"prior {PRIOR_OUTAGE_S / 60:.0f} min, both learned online from the trace as it replays.", ""]
    for case in cases:
        lines += run_case(case, traces, catalog, 12.0 if arguments.quick else None)
    lines.append(f"_{len(cases)} traces replayed in {time.perf_counter() - started:.1f} s._")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
