"""Fault tests of tiered checkpoints on real media: a local directory, a small tmpfs, SeaweedFS
over s3fs and per-node Ray actors on the session's virtual cluster."""

from __future__ import annotations

from tests.ray_cluster import RaySession, local_ray, ray_runtime  # noqa: F401 - fixtures
from tests.s3_server import SeaweedS3, fresh_seaweedfs, seaweedfs  # noqa: F401 - fixtures
