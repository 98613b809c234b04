"""Calibration benchmark of the performance model against published training runs.

Run:  python benchmarks/perfmodel_calibration.py          (predicted vs published, with errors)
      python benchmarks/perfmodel_calibration.py --fit    (re-derive the sustained fractions)

For each published run it prints the configuration, the published figure, the model's
prediction with the shared calibration constants of ``controlplane/perfmodel/data/
calibration.yaml``, the error, and a naive baseline — ``6 · N_active · tokens / (peak × 50 %)``
— computed in the same run, so the improvement over the rule of thumb is visible.

Rows marked ``calib`` were used (only) to fit their family's *sustained fraction*, the one
constant fitted end to end; every other row is held out. No constant is per run: the only
per-run inputs are the published configuration (model shape, parallel layout, batch, and the
software features the paper states), listed with each run, plus a few stated assumptions
where a paper is silent.

Sources
-------
[K22] V. Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models",
      MLSys 2023, arXiv:2205.05198 — Table 3 (model configurations: 22B/175B/530B/1T, TP8,
      PP 1/8/35/64, 8/64/280/512 A100-80GB GPUs, global batch 4/64/280/512, micro-batch 1,
      sequence 2048, vocabulary 51200) and Table 5 (end-to-end iteration time in seconds with
      full recomputation and with sequence parallelism + selective recomputation; the MFU
      column, 41.5/51.4/56.0/56.3 %, follows from those times).
[N21] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using
      Megatron-LM", SC'21, arXiv:2104.04473 — Table 1, 1T model (128 layers, hidden 25600,
      160 heads, TP8 PP64 on 3072 A100s, batch 3072): 163 teraFLOP/s per GPU (52 % of peak);
      the paper's FLOP count 96·B·s·l·h²·(1 + s/6h + V/16lh) includes recomputation.
[L3]  Llama Team, AI @ Meta, "The Llama 3 Herd of Models", arXiv:2407.21783 — Table 4
      (405B on 8,192 / 16,384 H100s: TP8, PP16, CP 1/1/16, DP 64/128/8, sequence 8192/8192/
      131072, batch per DP 32/16/16; 430/400/380 TFLOPs per GPU, BF16 MFU 43/41/38 %);
      sec. 3.3.1 (Grand Teton nodes, 8 H100 with NVLink, 400 Gbps RoCE per GPU); sec. 3.3.2
      (interleaved pipeline schedule; Fig. 6 illustrates V = 2 stages per rank).
[DS3] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437 — abstract and sec. 1
      (180K H800 GPU-hours per trillion tokens; 2.664M GPU-hours for 14.8T tokens), sec. 3.2
      (2048 H800s, PP16 with DualPipe, EP64 over 8 nodes, ZeRO-1 DP; 20 of 132 SMs dedicated
      to communication; node-limited routing to at most 4 nodes), sec. 3.3 (FP8 GEMMs),
      sec. 4.1-4.2 (61 layers, hidden 7168, 128 heads, MLA ranks 1536/512, head dims 128+64/128,
      256 routed + 1 shared experts of width 2048, top-8, first 3 layers dense with FFN 18432,
      one MTP module; sequence 4096; batch 15360 after warm-up).
[MB]  NVIDIA Megatron-Bridge performance summary archive, docs/performance-summary-archive.md in
      github.com/NVIDIA-NeMo/Megatron-Bridge — "25.09 NeMo Container", DGX-H100: DeepSeekV3
      (dropless), 1024 GPUs, GBS 8192, MBS 1, sequence 4096, TP2 PP8 VP4 EP64: 1297 tokens/s/GPU.
[NM]  NVIDIA NeMo 24.07 performance summary, docs/source/performance/performance_summary.md
      in github.com/NVIDIA/NeMo — DGX-H100, FP8 pre-training: tokens/s/GPU per model and
      layout (used to fit the Hopper sustained fraction).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.catalog import get_accelerator
from controlplane.perfmodel import (
    Calibration,
    DeviceSpec,
    ExecutionOptions,
    Layout,
    MLAShape,
    ModelShape,
    MoEShape,
    StepEstimate,
    as_device,
    default_calibration,
    estimate_step,
    model_flops_per_token,
    parameter_counts,
)
from controlplane.perfmodel.shapes import Recompute

NAIVE_EFFICIENCY = 0.50
LLAMA3_VIRTUAL_STAGES = 4
MEGATRON_2021 = ExecutionOptions(flash_attention=False, overlap_grad_reduce=False, overlap_param_gather=False,
                                 overlap_p2p=False)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    higher_is_faster: bool
    predict: Callable[[StepEstimate], float]
    naive: Callable[[float], float]
    """From the naive step time (seconds) to the metric."""


@dataclass(frozen=True)
class Run:
    key: str
    family: str
    role: str  # "calib" or "held-out"
    source: str
    model: ModelShape
    layout: Layout
    options: ExecutionOptions
    device: DeviceSpec
    metric: Metric
    published: float
    assumptions: str = ""

    def predict(self, calibration: Calibration) -> tuple[float, StepEstimate]:
        step = estimate_step(self.model, self.layout, self.device, options=self.options, calibration=calibration)
        return self.metric.predict(step), step

    def naive(self) -> float:
        counts = parameter_counts(self.model)
        tokens = self.layout.global_batch_size * self.model.sequence_length
        seconds = 6 * counts.active * tokens / (self.layout.devices * self.device.peak_flops(self.model.precision)
                                                * NAIVE_EFFICIENCY)
        return self.metric.naive(seconds)

    def slowdown(self, predicted: float) -> float:
        """Predicted step time over the published one (from whichever metric is published)."""
        return self.published / predicted if self.metric.higher_is_faster else predicted / self.published


def _gpt(layers: int, hidden: int, heads: int, *, vocab: int = 51200, seq: int = 2048) -> ModelShape:
    return ModelShape(layers=layers, hidden_size=hidden, attention_heads=heads, sequence_length=seq,
                      vocab_size=vocab, gated_mlp=False, dropout=True, tied_embeddings=True,
                      name=f"GPT {layers}L h{hidden}")


def _llama(layers: int, hidden: int, ffn: int, heads: int, kv: int, vocab: int, seq: int,
           precision: str = "bf16") -> ModelShape:
    return ModelShape(layers=layers, hidden_size=hidden, ffn_hidden_size=ffn, attention_heads=heads, kv_heads=kv,
                      vocab_size=vocab, sequence_length=seq, precision=precision)  # type: ignore[arg-type]


def _step_seconds() -> Metric:
    return Metric("step time", "s", False, lambda s: s.step_seconds, lambda naive: naive)


def _runs() -> list[Run]:
    a100 = as_device(get_accelerator("A100-80GB"))
    h100 = as_device(get_accelerator("H100"))
    h800 = as_device(get_accelerator("H800"))
    runs: list[Run] = []

    # [K22] Korthikanti et al.: four models, two recomputation modes, DP = 1.
    korthikanti = [("22B", 48, 6144, 64, 1, 4, 1.42, 1.10, "calib"),
                   ("175B", 96, 12288, 96, 8, 64, 18.13, 13.75, "held-out"),
                   ("530B", 105, 20480, 128, 35, 280, 49.05, 37.83, "held-out"),
                   ("1T", 128, 25600, 160, 64, 512, 94.42, 71.49, "held-out")]
    for name, layers, hidden, heads, pp, batch, full_s, selective_s, role in korthikanti:
        modes: tuple[tuple[Recompute, float], ...] = (("full", full_s), ("selective", selective_s))
        for mode, published in modes:
            layout = Layout(tp=8, pp=pp, dp=1, micro_batches=batch, zero_stage=0, activation_recompute=mode,
                            sequence_parallel=mode == "selective")
            runs.append(Run(f"K22 {name} {'SP+selective' if mode == 'selective' else 'full recompute'}",
                            "ampere", role, "[K22] Tab. 3, 5", _gpt(layers, hidden, heads), layout, MEGATRON_2021,
                            a100, _step_seconds(), published,
                            "non-interleaved 1F1B (the paper does not use virtual stages)"))

    # [N21] Megatron-LM SC'21, 1T model on 3072 GPUs; FLOPs counted with recomputation.
    gpt1t = _gpt(128, 25600, 160)
    per_step = 96 * 3072 * 2048 * 128 * 25600**2 * (1 + 2048 / (6 * 25600) + 51200 / (16 * 128 * 25600))
    runs.append(Run("N21 1T, 3072 GPUs", "ampere", "held-out", "[N21] Tab. 1", gpt1t,
                    Layout(tp=8, pp=64, dp=6, micro_batches=512, zero_stage=0, activation_recompute="full",
                           sequence_parallel=False),
                    MEGATRON_2021, a100,
                    Metric("TFLOP/s/GPU (paper's count)", "TFLOP/s", True,
                           lambda s: per_step / s.step_seconds / 3072 / 1e12,
                           lambda naive: per_step / naive / 3072 / 1e12),
                    163.0, "micro-batch 1, no virtual stages (Table 1 does not list them)"))

    # [NM] NeMo 24.07 on DGX-H100 in FP8 (Hopper calibration set), tokens/s/GPU.
    nemo = ExecutionOptions(overlap_tp_comm=True)
    nemo_runs = [
        ("LLAMA2-7B", _llama(32, 4096, 11008, 32, 32, 32000, 4096, "fp8"), Layout(dp=8, micro_batches=16), 16847),
        ("LLAMA3-8B", _llama(32, 4096, 14336, 32, 8, 128256, 8192, "fp8"), Layout(cp=2, dp=4, micro_batches=32),
         12036),
        ("LLAMA2-70B", _llama(80, 8192, 28672, 64, 8, 32000, 4096, "fp8"),
         Layout(tp=4, pp=4, dp=4, micro_batches=32, virtual_stages=20), 1707),
        ("LLAMA3-70B", _llama(80, 8192, 28672, 64, 8, 128256, 8192, "fp8"),
         Layout(tp=4, pp=4, cp=2, dp=2, micro_batches=64, virtual_stages=5), 1533),
        ("GPT3-175B", replace(_gpt(96, 12288, 96), precision="fp8", dropout=False),
         Layout(tp=4, pp=8, dp=4, micro_batches=64, virtual_stages=6), 726),
    ]
    for name, model, layout, published in nemo_runs:
        runs.append(Run(f"NeMo {name} FP8, {layout.devices} GPUs", "hopper", "calib", "[NM] 24.07 table", model,
                        layout, nemo, h100, _tokens_metric(model, layout), published,
                        "TP communication overlap on (NeMo's H100 recipes); micro-batch 1 as listed"))

    # [L3] Llama 3 405B, BF16 MFU.
    for gpus, dp, cp, seq, per_dp, mfu in ((8192, 64, 1, 8192, 32, 0.43), (16384, 128, 1, 8192, 16, 0.41),
                                           (16384, 8, 16, 131072, 16, 0.38)):
        model = _llama(126, 16384, 53248, 128, 8, 128256, seq)
        layout = Layout(tp=8, pp=16, dp=dp, cp=cp, micro_batches=per_dp, virtual_stages=LLAMA3_VIRTUAL_STAGES,
                        zero_stage=2)
        runs.append(Run(f"Llama 3 405B, {gpus} GPUs, seq {seq // 1024}K", "hopper", "held-out", "[L3] Tab. 4",
                        model, layout, ExecutionOptions(), h100,
                        Metric("BF16 MFU", "", True, lambda s: s.mfu, lambda naive: NAIVE_EFFICIENCY), mfu,
                        f"V = {LLAMA3_VIRTUAL_STAGES} virtual stages per rank (not stated; 128 layer slots = "
                        "16 ranks x V x 8/V layers allows V in {1, 2, 4, 8}: we take 4 and print the others "
                        "below); attention FLOPs counted without causal halving"))

    # [DS3] DeepSeek-V3 on 2048 H800s, GPU-hours per trillion tokens.
    deepseek = ModelShape(
        layers=62, hidden_size=7168, ffn_hidden_size=18432, attention_heads=128, vocab_size=129280,
        sequence_length=4096, precision="fp8", name="DeepSeek-V3 (+1 MTP layer)",
        moe=MoEShape(experts=256, top_k=8, expert_hidden_size=2048, shared_experts=1, moe_layers=59,
                     routing_node_limit=4),
        mla=MLAShape(kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
                     q_lora_rank=1536))
    runs.append(Run("DeepSeek-V3, 2048 H800", "hopper", "held-out", "[DS3] sec. 1, 3.2", deepseek,
                    Layout(pp=16, dp=128, ep=64, micro_batches=120, schedule="dualpipe"),
                    ExecutionOptions(overlap_ep_comm=True, comm_sm_fraction=20 / 132), h800,
                    Metric("H800 GPU-hours per 1T tokens", "K GPU-h", False,
                           lambda s: 1e12 / (s.tokens_per_second / 2048) / 3600 / 1e3,
                           lambda naive: 1e12 / (15360 * 4096 / naive / 2048) / 3600 / 1e3),
                    180.0,
                    "MTP module counted as one more MoE layer; micro-batch of 1 sequence (120 per step per "
                    "pipeline); experts perfectly balanced; NVLink and IB at the catalog's H800 figures"))

    # Megatron-Bridge 25.09 (NeMo) on DGX-H100: DeepSeek-V3 in FP8, token-dropless, experts force-balanced.
    assert deepseek.moe is not None
    nemo_deepseek = replace(deepseek, layers=61, moe=replace(deepseek.moe, moe_layers=58), name="DeepSeek-V3")
    runs.append(Run("NeMo DeepSeek-V3 FP8, 1024 H100", "hopper", "held-out", "[MB] 25.09 DGX-H100 table",
                    nemo_deepseek, Layout(tp=2, pp=8, dp=64, ep=64, micro_batches=128, virtual_stages=4),
                    ExecutionOptions(overlap_tp_comm=True), h100, _tokens_metric(nemo_deepseek, Layout(
                        tp=2, pp=8, dp=64, ep=64, micro_batches=128, virtual_stages=4)), 1297.0,
                    "no MTP layer; expert all-to-all not overlapped (Megatron-Core default); routing not "
                    "node-limited"))
    return runs


def _tokens_metric(model: ModelShape, layout: Layout) -> Metric:
    tokens_per_step = layout.global_batch_size * model.sequence_length
    return Metric("tokens/s/GPU", "tok/s", True, lambda s: s.tokens_per_second / layout.devices,
                  lambda naive: tokens_per_step / naive / layout.devices)


def _error(run: Run, value: float) -> float:
    return value / run.published - 1


def _fmt(value: float, metric: Metric) -> str:
    if metric.name.endswith("MFU"):
        return f"{100 * value:.1f}%"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def fit(runs: list[Run], calibration: Calibration) -> dict[str, float]:
    """Per family, the sustained fraction zeroing the mean log slowdown of its calibration rows."""
    fitted: dict[str, float] = {}
    for family in sorted({run.family for run in runs if run.role == "calib"}):
        rows = [run for run in runs if run.role == "calib" and run.family == family]

        def mean_log_slowdown(value: float, rows: list[Run] = rows, family: str = family) -> float:
            trial = calibration.with_sustained_fraction(value, family=family)
            return sum(math.log(run.slowdown(run.predict(trial)[0])) for run in rows) / len(rows)

        low, high = 0.2, 1.0
        for _ in range(40):
            middle = (low + high) / 2
            if mean_log_slowdown(middle) > 0:  # predicted too slow: raise the fraction
                low = middle
            else:
                high = middle
        fitted[family] = (low + high) / 2
    return fitted


def report(runs: list[Run], calibration: Calibration) -> None:
    header = (f"{'run':38} {'role':8} {'metric':29} {'published':>10} {'predicted':>10} {'error':>7} "
              f"{'naive':>10} {'naive err':>9}")
    print(header)
    print("-" * len(header))
    summary: dict[str, list[float]] = {"calib": [], "held-out": []}
    naive_errors: list[float] = []
    for run in runs:
        predicted, _ = run.predict(calibration)
        naive = run.naive()
        error, naive_error = _error(run, predicted), _error(run, naive)
        summary[run.role].append(abs(error))
        naive_errors.append(abs(naive_error))
        flag = "" if abs(error) <= 0.15 else "  <-- outside ±15%"
        print(f"{run.key:38} {run.role:8} {run.metric.name:29} {_fmt(run.published, run.metric):>10} "
              f"{_fmt(predicted, run.metric):>10} {100 * error:>+6.1f}% {_fmt(naive, run.metric):>10} "
              f"{100 * naive_error:>+8.1f}%{flag}")
    print()
    for role, errors in summary.items():
        if errors:
            inside = sum(e <= 0.15 for e in errors)
            print(f"{role:8}: mean |error| {100 * sum(errors) / len(errors):5.1f}%, max {100 * max(errors):5.1f}%, "
                  f"{inside}/{len(errors)} within ±15%")
    print(f"naive   : mean |error| {100 * sum(naive_errors) / len(naive_errors):5.1f}%, "
          f"max {100 * max(naive_errors):5.1f}%")


def details(runs: list[Run], calibration: Calibration) -> None:
    print("\nConfigurations and predicted step breakdown (seconds per step):")
    for run in runs:
        _, step = run.predict(calibration)
        parts = ", ".join(f"{name} {value:.2f}" for name, value in step.breakdown().items() if value > 0.005)
        print(f"- {run.key} {run.source}: {run.device.name}, {run.layout.describe()}, "
              f"mbs={run.layout.micro_batch_size}, m={run.layout.micro_batches}, recompute="
              f"{run.layout.activation_recompute}, {run.model.precision}; step {step.step_seconds:.2f} s "
              f"({parts}); MFU {100 * step.mfu:.1f}%")
        if run.assumptions:
            print(f"    assumptions: {run.assumptions}")


def sensitivity(calibration: Calibration) -> None:
    print("\nSensitivity of the held-out Llama 3 rows to the unpublished interleaving depth V:")
    h100 = as_device(get_accelerator("H100"))
    for dp, per_dp, published in ((64, 32, 0.43), (128, 16, 0.41)):
        model = _llama(126, 16384, 53248, 128, 8, 128256, 8192)
        values = []
        for v in (1, 2, 4, 7):
            layout = Layout(tp=8, pp=16, dp=dp, micro_batches=per_dp, virtual_stages=v, zero_stage=2)
            values.append(f"V={v}: {100 * estimate_step(model, layout, h100, calibration=calibration).mfu:.1f}%")
        print(f"  {dp * 128} GPUs (published {100 * published:.0f}%): " + ", ".join(values))


def attention_convention(calibration: Calibration) -> None:
    print("\nThe 128K-token Llama 3 row under the other attention-FLOPs convention (causal half counted):")
    h100 = as_device(get_accelerator("H100"))
    model = _llama(126, 16384, 53248, 128, 8, 128256, 131072)
    layout = Layout(tp=8, pp=16, dp=8, cp=16, micro_batches=16, virtual_stages=LLAMA3_VIRTUAL_STAGES, zero_stage=2)
    step = estimate_step(model, layout, h100, calibration=calibration)
    full = model_flops_per_token(model)
    attention = 3 * 2.0 * model.sequence_length * model.attention_heads * 2 * model.qk_head_dim * model.layers
    causal = full - attention / 2
    print(f"  model FLOPs/token {full / 1e12:.2f} T (full scores) vs {causal / 1e12:.2f} T (causal): "
          f"predicted MFU {100 * step.mfu:.1f}% vs {100 * step.mfu * causal / full:.1f}% (published 38%)")


def deepseek_sensitivity(runs: list[Run], calibration: Calibration) -> None:
    print("\nDeepSeek-V3 (published 180K GPU-hours per 1T tokens) under other stated-unknown assumptions:")
    run = next(r for r in runs if r.key.startswith("DeepSeek-V3"))
    assert run.model.moe is not None
    variants = [
        ("as in the table (all-to-all hidden by DualPipe, experts balanced)", run.model, run.options),
        ("all-to-all fully exposed", run.model, replace(run.options, overlap_ep_comm=False)),
        ("experts 30 % over-loaded on the busiest rank", replace(run.model, moe=replace(run.model.moe,
                                                                                      load_imbalance=1.3)),
         run.options),
        ("FP8 GEMMs no faster than BF16", replace(run.model, precision="bf16"), run.options),
    ]
    for label, model, options in variants:
        value, _ = replace(run, model=model, options=options).predict(calibration)
        print(f"  {label:68} {value:6.0f}K ({100 * (value / run.published - 1):+.0f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit", action="store_true", help="re-derive the per-family sustained fractions")
    args = parser.parse_args()
    calibration = default_calibration()
    runs = _runs()
    if args.fit:
        for family, value in fit(runs, calibration).items():
            print(f"sustained_fraction.{family}: {value:.3f} (file: {calibration.sustained_by_family.get(family)})")
        return
    print("Suanli performance model vs published training runs "
          f"(sustained fractions: {dict(calibration.sustained_by_family)}, default {calibration.sustained_default})\n")
    report(runs, calibration)
    details(runs, calibration)
    sensitivity(calibration)
    attention_convention(calibration)
    deepseek_sensitivity(runs, calibration)


if __name__ == "__main__":
    main()
