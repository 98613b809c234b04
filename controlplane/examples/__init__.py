"""Small workloads that run under Suanli: the demo's tiny training job and the probes the runtime
contract tests launch. They use only the worker SDK (``controlplane.runtime.worker``)."""
