"""The reconcile loop: sync what the runtime observes into the store, plan with the pure
scheduler on an immutable snapshot, record each decision as an intent, apply it through the
runtime, and record the outcome. See ``loop.Controller`` for the tick and its crash-safety."""
