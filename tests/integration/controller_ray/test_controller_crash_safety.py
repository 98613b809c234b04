"""Crash safety with real processes: controllers (``controlplane.local.controller_main``) are
SIGKILLed at random moments of a job's life and restarted; the job still succeeds, its attempt
is adopted rather than relaunched, every launch intent takes effect exactly once, and a second
controller started next to a leader stands by until the leader lets go.

The kill moments are drawn from a seeded generator; the seed is in every failure message
(``SUANLI_CRASH_SEED=<seed>`` replays a run)."""

from __future__ import annotations

import importlib.util
import itertools
import os
import random
import time
from collections.abc import Callable

import pytest

from tests.integration.controller_ray.conftest import PROBE, ControllerFactory, Store, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                       reason="torch is not installed: pip install torch==2.13.0 (the 'torch' extra)"),
]


def test_a_controller_killed_at_random_moments_and_restarted_loses_nothing_and_launches_nothing_twice(
        store: Store, controllers: ControllerFactory) -> None:
    seed = int(os.environ.get("SUANLI_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    replay = f"(replay with SUANLI_CRASH_SEED={seed})"
    controller = controllers.start()
    uid = store.submit("crash-me", steps=150, env={"TINY_STEP_DELAY_S": "0.15"})
    kill_points: list[tuple[str, Callable[[], bool], float]] = [
        ("right after admission", lambda: bool(store.attempts(uid)), rng.uniform(0.0, 0.4)),
        ("early in training", _past_step(store, uid, rng.randint(10, 40)), rng.uniform(0.0, 1.0)),
        ("late in training", _past_step(store, uid, rng.randint(55, 90)), rng.uniform(0.0, 1.0)),
    ]

    for moment, reached, delay in kill_points:
        wait_for(_or_ended(reached, store, uid), what=f"{moment} {replay}", timeout_s=120)
        time.sleep(delay)
        assert store.phase(uid) not in ("SUCCEEDED", "FAILED"), f"the job ended before the kill {moment} {replay}"
        controller.kill()
        controller = controllers.start()
    wait_for(lambda: store.phase(uid) in ("SUCCEEDED", "FAILED"), what=f"the job to end {replay}", timeout_s=150)

    job = store.job(uid)
    assert job.status.phase == "SUCCEEDED", f"{job.status.message} {replay}"
    attempts = store.attempts(uid)
    for earlier, later in itertools.pairwise(attempts):  # never two attempts at once
        assert earlier.ended_at is not None and earlier.ended_at <= later.created_at, replay
    assert len(attempts) == 1 and job.status.restarts == 0, replay  # adopted across every kill, never relaunched
    launches = [intent for intent in store.intents(uid) if intent.kind == "launch"]
    assert [(intent.attempt_id, intent.state) for intent in launches] == [(attempts[0].id, "applied")], replay
    starts = store.rank_starts()
    assert set(starts) == {attempts[0].id}, replay  # nothing else ever ran on the cluster
    assert {rank: len(lines) for rank, lines in starts[attempts[0].id].items()} == {0: 1, 1: 1, 2: 1, 3: 1}, replay
    assert attempts[0].progress["step"] == 150
    lease = store.lease()
    assert lease is not None and lease.token == 4 and controller.holds(lease), replay  # four terms, one per process
    assert controller.stop() == 0


def test_a_second_controller_stands_by_and_takes_over_only_when_the_leader_lets_go(
        store: Store, controllers: ControllerFactory) -> None:
    leader = controllers.start()
    wait_for(lambda: leader.holds(store.lease()), what="the first controller to lead", timeout_s=60)
    standby = controllers.start()
    wait_for(lambda: "standing by" in standby.log(), what="the second controller to start", timeout_s=60)

    uid = store.submit("watched", entrypoint=PROBE, devices=2, env={"PROBE_STEPS": "20", "PROBE_STEP_DELAY_S": "0.1"})
    holders: set[str] = set()
    wait_for(lambda: store.phase(uid) in ("SUCCEEDED", "FAILED"), what="the job to end",
             between=lambda: holders.add(getattr(store.lease(), "holder", "")))

    assert store.phase(uid) == "SUCCEEDED"
    lease = store.lease()
    assert lease is not None and leader.holds(lease) and lease.token == 1
    assert {holder.split(":")[-2] for holder in holders} == {str(leader.pid)}
    assert {intent.lease_token for intent in store.intents(uid)} == {1}  # every intent came from the leader
    assert "leading the control plane" not in standby.log()

    assert leader.stop() == 0  # a clean stop releases the lease
    wait_for(lambda: standby.holds(store.lease()), what="the standby to take over", timeout_s=20)
    assert store.lease().token == 2  # type: ignore[union-attr]
    assert standby.stop() == 0


def _past_step(store: Store, uid: str, step: int) -> Callable[[], bool]:
    return lambda: store.step(uid) >= step


def _or_ended(condition: Callable[[], bool], store: Store, uid: str) -> Callable[[], bool]:
    return lambda: condition() or store.phase(uid) in ("SUCCEEDED", "FAILED")

