"""Typed HTTP client of the control plane: the only way the CLI and the operator reach it."""

from controlplane.client.client import ApiError, ServerUnreachableError, SuanliClient

__all__ = ["ApiError", "ServerUnreachableError", "SuanliClient"]
