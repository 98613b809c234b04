"""Suanli control plane: schedules AI training jobs and inference services across heterogeneous
accelerator pools, places them topology-aware, checkpoints them and survives spot preemption."""

__version__ = "0.1.0"
