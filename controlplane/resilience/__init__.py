"""Resilience policies (pure): checkpoint interval, the response to a preemption notice, recovery."""
