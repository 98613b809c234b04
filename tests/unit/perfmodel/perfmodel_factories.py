"""Builders shared by the performance-model tests (devices and model shapes)."""

from __future__ import annotations

from dataclasses import replace

from controlplane.perfmodel import DeviceSpec, ModelShape


def toy_device(name: str = "toy", *, hbm_gib: float = 80.0, family: str = "hopper",
               devices_per_node: int = 8) -> DeviceSpec:
    return DeviceSpec(name=name, vendor="nvidia", family=family, peak_tflops={"bf16": 1000.0, "fp8": 2000.0},
                      hbm_gib=hbm_gib, hbm_tb_per_s=3.0, intra_node_gb_per_s=400.0,
                      devices_per_node=devices_per_node, scale_out_gbit_per_s=400.0)


def llama2_7b(**changes: object) -> ModelShape:
    """Llama-2-7B: 32 layers, hidden 4096, SwiGLU FFN 11008, 32 heads, vocabulary 32000."""
    model = ModelShape(layers=32, hidden_size=4096, ffn_hidden_size=11008, attention_heads=32,
                       sequence_length=4096, vocab_size=32000, name="llama-2-7b")
    return replace(model, **changes)  # type: ignore[arg-type]


def llama3_70b(**changes: object) -> ModelShape:
    model = ModelShape(layers=80, hidden_size=8192, ffn_hidden_size=28672, attention_heads=64, kv_heads=8,
                       sequence_length=8192, vocab_size=128256, name="llama-3-70b")
    return replace(model, **changes)  # type: ignore[arg-type]


def gpt(layers: int = 24, hidden: int = 2048, heads: int = 16, seq: int = 2048, **changes: object) -> ModelShape:
    """A GPT-3-style model: GELU MLP of 4h, dropout, tied embeddings."""
    model = ModelShape(layers=layers, hidden_size=hidden, attention_heads=heads, sequence_length=seq,
                       vocab_size=51200, gated_mlp=False, dropout=True, tied_embeddings=True)
    return replace(model, **changes)  # type: ignore[arg-type]
