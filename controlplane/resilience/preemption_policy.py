"""Preemption-rate awareness with hysteresis: after too many preemptions, prefer on-demand capacity.

Owns ``PreemptionLimit``, ``RiskState``, ``RiskVerdict``, ``assess_preemption_risk`` and
``PreemptionRateTracker``. Pure: times are passed in, nothing reads a clock.

Vocabulary:
- *scope*: what preemptions are counted for — a job id (``job:<id>``) or a pool (``pool:<name>``).
- *trip*: more than ``max_preemptions`` preemptions within the trailing ``window_s`` seconds
  switches the scope to *prefer on-demand* (or reserved) capacity. A job's
  ``spec.spot.maxPreemptionsPerHour`` sets its limit (``PreemptionLimit.from_rate``).
- *release*: the scope goes back to spot only when both hold: it has preferred on-demand for at
  least ``min_hold_s``, and the trailing window holds at most ``release_at`` preemptions (half
  the limit by default). The gap between trip and release is the hysteresis that keeps a job from
  flapping between spot and on-demand on every preemption.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

HOUR_S = 3600.0


class _HasSpotRate(Protocol):
    @property
    def max_preemptions_per_hour(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class PreemptionLimit:
    """More than ``max_preemptions`` in ``window_s`` trips the scope to on-demand."""

    max_preemptions: int
    window_s: float = HOUR_S
    release_at: int | None = None
    """At most this many in the window to release (default: half the limit, rounded down)."""
    min_hold_s: float = HOUR_S
    """Prefer on-demand at least this long once tripped."""

    def __post_init__(self) -> None:
        if self.max_preemptions < 0:
            raise ValueError(f"max_preemptions must not be negative (got {self.max_preemptions})")
        if self.window_s <= 0:
            raise ValueError(f"window_s must be positive (got {self.window_s})")
        if self.release_at is not None and not 0 <= self.release_at <= self.max_preemptions:
            raise ValueError(f"release_at must be between 0 and max_preemptions (got {self.release_at})")
        if self.min_hold_s < 0:
            raise ValueError(f"min_hold_s must not be negative (got {self.min_hold_s})")

    @property
    def release_threshold(self) -> int:
        return self.max_preemptions // 2 if self.release_at is None else self.release_at

    @classmethod
    def from_rate(cls, per_hour: float | None, *, window_s: float = HOUR_S,
                  min_hold_s: float = HOUR_S) -> PreemptionLimit | None:
        """The limit for ``spot.maxPreemptionsPerHour`` (None: no limit, never pinned)."""
        if per_hour is None:
            return None
        if per_hour < 0 or math.isnan(per_hour):
            raise ValueError(f"maxPreemptionsPerHour must not be negative (got {per_hour})")
        return cls(max_preemptions=math.floor(per_hour * window_s / HOUR_S + 1e-9), window_s=window_s,
                   min_hold_s=min_hold_s)

    @classmethod
    def from_spot_policy(cls, policy: _HasSpotRate, *, window_s: float = HOUR_S,
                         min_hold_s: float = HOUR_S) -> PreemptionLimit | None:
        """From a job's ``jobspecs.SpotPolicy`` (or anything with ``max_preemptions_per_hour``)."""
        return cls.from_rate(policy.max_preemptions_per_hour, window_s=window_s, min_hold_s=min_hold_s)


@dataclass(frozen=True, slots=True)
class RiskState:
    """What a scope decided last time; carry it to the next assessment."""

    prefer_on_demand: bool = False
    since: float | None = None
    """When the current preference began."""


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    scope: str
    prefer_on_demand: bool
    preemptions_in_window: int
    rate_per_hour: float
    state: RiskState
    changed: bool
    reason: str


def assess_preemption_risk(preemption_times: Iterable[float], now: float, limit: PreemptionLimit | None,
                           state: RiskState = RiskState(), *, scope: str = "job") -> RiskVerdict:
    """Whether ``scope`` should prefer on-demand at ``now``, given its preemption times and last state."""
    if limit is None:
        recent = [t for t in preemption_times if now - HOUR_S < t <= now]
        cleared = RiskState()
        return RiskVerdict(scope, False, len(recent), float(len(recent)), cleared, state.prefer_on_demand,
                           "no preemption limit set: spot stays allowed")
    recent = [t for t in preemption_times if now - limit.window_s < t <= now]
    count = len(recent)
    rate = count * HOUR_S / limit.window_s
    window_text = f"{count} preemption{'s' if count != 1 else ''} in the last {limit.window_s / 60:g} min"
    if not state.prefer_on_demand:
        if count > limit.max_preemptions:
            return RiskVerdict(scope, True, count, rate, RiskState(True, now), True,
                               f"{window_text} exceeds the limit of {limit.max_preemptions}: prefer on-demand")
        return RiskVerdict(scope, False, count, rate, state, False,
                           f"{window_text}, within the limit of {limit.max_preemptions}")
    held = now - (state.since if state.since is not None else now)
    if held >= limit.min_hold_s and count <= limit.release_threshold:
        return RiskVerdict(scope, False, count, rate, RiskState(False, now), True,
                           f"{window_text} (at most {limit.release_threshold}) after {held / 60:.0f} min on "
                           "on-demand: spot allowed again")
    why = (f"held on-demand for {held / 60:.0f} of at least {limit.min_hold_s / 60:g} min"
           if held < limit.min_hold_s else f"still above the release level of {limit.release_threshold}")
    return RiskVerdict(scope, True, count, rate, state, False, f"{window_text}; {why}: keep preferring on-demand")


def job_scope(job_id: str) -> str:
    return f"job:{job_id}"


def pool_scope(pool: str) -> str:
    return f"pool:{pool}"


class PreemptionRateTracker:
    """Preemption times and hysteresis state per scope; the controller feeds it preemption events.

    ``limits`` holds per-scope limits (a job's own ``maxPreemptionsPerHour``); ``default_limit``
    applies to scopes without one (None: such scopes are never tripped).
    """

    def __init__(self, limits: Mapping[str, PreemptionLimit | None] | None = None, *,
                 default_limit: PreemptionLimit | None = None) -> None:
        self._limits: dict[str, PreemptionLimit | None] = dict(limits or {})
        self._default = default_limit
        self._times: dict[str, list[float]] = {}
        self._states: dict[str, RiskState] = {}

    def set_limit(self, scope: str, limit: PreemptionLimit | None) -> None:
        self._limits[scope] = limit

    def limit(self, scope: str) -> PreemptionLimit | None:
        return self._limits.get(scope, self._default)

    def record(self, at: float, *, job_id: str | None = None, pool: str | None = None) -> None:
        """One preemption at ``at``, counted for the job and for the pool it hit."""
        for scope in _scopes(job_id, pool):
            self._times.setdefault(scope, []).append(at)

    def preemptions(self, scope: str) -> Sequence[float]:
        return tuple(self._times.get(scope, ()))

    def assess(self, scope: str, now: float) -> RiskVerdict:
        """The verdict for one scope now (its state is updated)."""
        limit = self.limit(scope)
        verdict = assess_preemption_risk(self._times.get(scope, ()), now, limit,
                                         self._states.get(scope, RiskState()), scope=scope)
        self._states[scope] = verdict.state
        if limit is not None:  # older times can never count again
            self._times[scope] = [t for t in self._times.get(scope, ()) if t > now - max(limit.window_s, HOUR_S)]
        return verdict

    def verdict_for(self, now: float, *, job_id: str | None = None, pool: str | None = None) -> RiskVerdict:
        """On-demand is preferred when the job's scope or the pool's scope says so (job checked first)."""
        verdicts = [self.assess(scope, now) for scope in _scopes(job_id, pool)]
        if not verdicts:
            raise ValueError("name a job, a pool, or both")
        tripped = [v for v in verdicts if v.prefer_on_demand]
        return tripped[0] if tripped else verdicts[0]

    def state(self, scope: str) -> RiskState:
        return self._states.get(scope, RiskState())

    def restore(self, scope: str, state: RiskState, preemption_times: Iterable[float] = ()) -> None:
        """Reload a scope after a controller restart (from the store's events)."""
        self._states[scope] = replace(state)
        self._times[scope] = sorted(preemption_times)


def _scopes(job_id: str | None, pool: str | None) -> list[str]:
    return [scope for scope in (job_scope(job_id) if job_id else None, pool_scope(pool) if pool else None) if scope]
