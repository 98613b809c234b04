"""The torch path of ``tiny_train``: a tiny causal transformer under DistributedDataParallel.

Imported only when torch is installed (``pip install torch==2.13.0``, the ``torch`` extra).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from controlplane.examples.tiny_train import (
    TinyConfig,
    checkpoint_due,
    counting_batch,
    fail_if_asked,
    local_batch_size,
)
from controlplane.runtime import worker as suanli


class TinyGPT(nn.Module):
    """Token and position embeddings, ``layers`` pre-norm causal blocks, an output head."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(config.vocab, config.hidden)
        self.positions = nn.Embedding(config.sequence, config.hidden)
        block = nn.TransformerEncoderLayer(config.hidden, config.heads, config.ffn, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.hidden)
        self.head = nn.Linear(config.hidden, config.vocab, bias=False)
        mask = torch.triu(torch.full((config.sequence, config.sequence), float("-inf")), diagonal=1)
        self.causal_mask: torch.Tensor
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        hidden = self.tokens(tokens) + self.positions(positions)[None]
        length = tokens.shape[1]
        hidden = self.blocks(hidden, mask=self.causal_mask[:length, :length], is_causal=True)
        logits: torch.Tensor = self.head(self.norm(hidden))
        return logits


LOSS_PRINT_EVERY = 10


def parameter_checksum(model: nn.Module) -> float:
    with torch.no_grad():
        return float(sum(parameter.double().sum().item() for parameter in model.parameters()))


def train_torch(config: TinyConfig) -> float:
    """Train on this rank, all ranks in one gloo group; returns the parameter checksum."""
    ctx = suanli.context()
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)  # every rank starts from the same weights
    distributed = ctx.world_size > 1
    if distributed:
        dist.init_process_group("gloo", init_method=ctx.init_method, rank=ctx.rank, world_size=ctx.world_size)
    try:
        model = TinyGPT(config)
        trained: nn.Module = nn.parallel.DistributedDataParallel(model) if distributed else model
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
        start_step = 0
        restored = suanli.restore_checkpoint()
        if restored is not None:
            start_step, state = restored
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            print(f"rank {ctx.rank}: resumed from the checkpoint of step {start_step}", flush=True)
        generator = np.random.default_rng(config.seed * 1_000_003 + ctx.rank)  # each rank its own data shard
        batch = local_batch_size(config, ctx.world_size)
        saved = done = start_step
        for step in range(start_step, config.total_steps):
            if _stop_agreed(distributed):
                print(f"rank {ctx.rank}: stopping at step {step}", flush=True)
                if config.checkpoint_every_steps > 0 and saved != done:  # a graceful stop keeps every step
                    print(f"rank {ctx.rank}: final checkpoint at step {done}", flush=True)
                    suanli.save_checkpoint(done, {"model": model.state_dict(), "optimizer": optimizer.state_dict()})
                break
            fail_if_asked(config, ctx.rank, step, resumed=restored is not None)
            tokens = torch.from_numpy(counting_batch(generator, batch, config.sequence, config.vocab))
            logits = trained(tokens[:, :-1])
            loss = nn.functional.cross_entropy(logits.reshape(-1, config.vocab), tokens[:, 1:].reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done = step + 1
            suanli.report(step=done, loss=float(loss.item()), tokens=config.tokens_per_step)
            if done % LOSS_PRINT_EVERY == 0 and ctx.is_chief:
                print(f"step {done} loss {loss.item():.4f}", flush=True)
            if checkpoint_due(config, done):
                suanli.save_checkpoint(done, {"model": model.state_dict(), "optimizer": optimizer.state_dict()})
                saved = done
            if config.step_delay_s:
                time.sleep(config.step_delay_s)
        checksum = parameter_checksum(model)
        print(f"rank {ctx.rank}: param checksum: {checksum:.10f}", flush=True)
        return checksum
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()


def _stop_agreed(distributed: bool) -> bool:
    """Stop when any rank was asked to, so every rank leaves the loop at the same step."""
    flag = torch.tensor([1.0 if suanli.should_stop() else 0.0])
    if distributed:
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item() > 0)
