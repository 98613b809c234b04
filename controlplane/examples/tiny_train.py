"""The demo's training job: a ~1M-parameter GPT on synthetic tokens, data parallel over the ranks.

``main()`` is the entrypoint ``jobspecs/examples/tiny-cpu.yaml`` names
(``controlplane.examples.tiny_train:main``). With torch it builds a 2-layer causal transformer
(hidden 64, 4 heads, FFN 256, vocabulary 8192, sequence 32: 1.2 M parameters, as
``tiny-cpu.yaml`` declares), joins the ranks with ``torch.distributed`` over gloo
(``init_method=tcp://MASTER_ADDR:MASTER_PORT``), wraps the model in
``DistributedDataParallel`` and trains on a learnable synthetic task (each sequence counts up
from a random start, so the next token is predictable). Every rank uses one thread.

Without torch (or with ``TINY_BACKEND=numpy``) it falls back to a single-rank-local NumPy
softmax regression on the same task, so the runtime can be exercised where torch is absent;
ranks then train independently.

Both paths: report step/loss/tokens every step through the worker SDK, stop at a step boundary
when ``should_stop()`` turns true, checkpoint through the SDK when asked (or every
``SUANLI_CHECKPOINT_EVERY_STEPS``), resume from the newest committed checkpoint, and end by
printing ``param checksum: <value>`` on every rank (equal values mean the replicas agree).
Under Suanli the checkpoints are tiered (``SUANLI_CHECKPOINT_TIERS``: snapshot to host memory,
persist in the background); ``main`` waits for the last persist before returning.

Knobs (environment): ``SUANLI_TOTAL_STEPS`` (50), ``TINY_LAYERS`` (2), ``TINY_HIDDEN`` (64),
``TINY_HEADS`` (4), ``TINY_FFN`` (256), ``TINY_VOCAB`` (8192), ``TINY_SEQ`` (32),
``TINY_GLOBAL_BATCH`` (8), ``TINY_LR`` (0.003), ``TINY_SEED`` (0), ``TINY_STEP_DELAY_S`` (0).
Fault injection: ``TINY_FAIL_AT_STEP`` (0: never) crashes rank ``TINY_FAIL_RANK`` (0) after that
many steps, in a run that did not resume from a checkpoint (the retry goes on).
A graceful stop (``should_stop()``) saves a final checkpoint of the last step trained first, so
a stop ahead of a spot preemption loses no step.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from controlplane.runtime import worker as suanli


@dataclass(frozen=True, slots=True)
class TinyConfig:
    total_steps: int = 50
    layers: int = 2
    hidden: int = 64
    heads: int = 4
    ffn: int = 256
    vocab: int = 8192
    sequence: int = 32
    global_batch: int = 8
    learning_rate: float = 3e-3
    seed: int = 0
    step_delay_s: float = 0.0
    checkpoint_every_steps: int = 0
    fail_at_step: int = 0
    fail_rank: int = 0

    @classmethod
    def from_environment(cls) -> TinyConfig:
        env, defaults = os.environ, cls()
        return cls(
            total_steps=int(env.get("SUANLI_TOTAL_STEPS", defaults.total_steps)),
            layers=int(env.get("TINY_LAYERS", defaults.layers)),
            hidden=int(env.get("TINY_HIDDEN", defaults.hidden)),
            heads=int(env.get("TINY_HEADS", defaults.heads)),
            ffn=int(env.get("TINY_FFN", defaults.ffn)),
            vocab=int(env.get("TINY_VOCAB", defaults.vocab)),
            sequence=int(env.get("TINY_SEQ", defaults.sequence)),
            global_batch=int(env.get("TINY_GLOBAL_BATCH", defaults.global_batch)),
            learning_rate=float(env.get("TINY_LR", defaults.learning_rate)),
            seed=int(env.get("TINY_SEED", defaults.seed)),
            step_delay_s=float(env.get("TINY_STEP_DELAY_S", defaults.step_delay_s)),
            checkpoint_every_steps=int(env.get("SUANLI_CHECKPOINT_EVERY_STEPS", defaults.checkpoint_every_steps)),
            fail_at_step=int(env.get("TINY_FAIL_AT_STEP", defaults.fail_at_step)),
            fail_rank=int(env.get("TINY_FAIL_RANK", defaults.fail_rank)),
        )

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.sequence


def counting_batch(generator: np.random.Generator, batch: int, sequence: int, vocab: int) -> np.ndarray:
    """``batch`` sequences of ``sequence + 1`` tokens counting up (mod ``vocab``) from random starts."""
    starts = generator.integers(0, vocab, size=(batch, 1))
    return (starts + np.arange(sequence + 1)[None, :]) % vocab


def local_batch_size(config: TinyConfig, world_size: int) -> int:
    return max(1, config.global_batch // max(1, world_size))


class InjectedRankFailure(RuntimeError):
    """The failure ``TINY_FAIL_AT_STEP`` asks for (fault injection for demos and tests)."""


def fail_if_asked(config: TinyConfig, rank: int, step: int, *, resumed: bool) -> None:
    """Crash rank ``fail_rank`` before step ``fail_at_step`` + 1 of a run that started from scratch
    (so the retried attempt, which resumes from a checkpoint, goes on)."""
    if config.fail_at_step and not resumed and rank == config.fail_rank and step == config.fail_at_step:
        raise InjectedRankFailure(f"rank {rank}: injected failure at step {step} (TINY_FAIL_AT_STEP)")


def checkpoint_due(config: TinyConfig, step: int) -> bool:
    every = config.checkpoint_every_steps
    return suanli.checkpoint_requested() or (every > 0 and step % every == 0)


def main() -> None:
    """Train the tiny model on this rank; see the module docstring."""
    config = TinyConfig.from_environment()
    backend = os.environ.get("TINY_BACKEND", "torch")
    if backend != "numpy":
        try:
            import torch  # noqa: F401 - only probing whether torch is installed
        except ImportError:
            backend = "numpy"
    if backend == "numpy":
        train_numpy(config)
    else:
        from controlplane.examples.tiny_torch import train_torch

        train_torch(config)
    suanli.wait_for_checkpoints()


def train_numpy(config: TinyConfig) -> float:
    """Softmax regression from the current token to the next one; returns the parameter checksum."""
    ctx = suanli.context()
    vocab = min(config.vocab, 256)
    generator = np.random.default_rng(config.seed)
    weights = np.zeros((vocab, vocab))
    start_step = 0
    restored = ctx.restore()
    if restored is not None:
        start_step, state = restored
        weights = np.asarray(state["weights"], dtype=float)
        print(f"rank {ctx.rank}: resumed from step {start_step}", flush=True)
    batch = local_batch_size(config, ctx.world_size)
    saved = start_step
    for step in range(start_step, config.total_steps):
        if suanli.should_stop():
            print(f"rank {ctx.rank}: stopping at step {step}", flush=True)
            if config.checkpoint_every_steps > 0 and saved != step:
                ctx.checkpoint({"weights": weights}, step)
            break
        fail_if_asked(config, ctx.rank, step, resumed=restored is not None)
        tokens = counting_batch(generator, batch, config.sequence, vocab)
        inputs, targets = tokens[:, :-1].reshape(-1), tokens[:, 1:].reshape(-1)
        logits = weights[inputs]
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        loss = float(-np.log(probabilities[np.arange(len(targets)), targets] + 1e-12).mean())
        gradient = probabilities
        gradient[np.arange(len(targets)), targets] -= 1.0
        update = np.zeros_like(weights)
        np.add.at(update, inputs, gradient / len(targets))
        weights -= config.learning_rate * 1000 * update
        done = step + 1
        suanli.report(step=done, loss=loss, tokens=config.tokens_per_step)
        if checkpoint_due(config, done):
            ctx.checkpoint({"weights": weights}, done)  # blocks only for the snapshot copy
            saved = done
        if config.step_delay_s:
            time.sleep(config.step_delay_s)
    checksum = float(np.square(weights).sum())
    print(f"rank {ctx.rank}: param checksum: {checksum:.10f}", flush=True)
    return checksum


if __name__ == "__main__":  # torchrun --nproc-per-node 2 -m controlplane.examples.tiny_train
    main()
