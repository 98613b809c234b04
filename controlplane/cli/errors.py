"""How the CLI fails: one readable paragraph on stderr and a meaningful exit code, never a traceback.

Exit codes: 2 for bad input (an invalid spec, or a request the server refused as invalid,
missing or conflicting), 1 for everything else (server unreachable, server error).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from controlplane.client import ApiError, ServerUnreachableError
from controlplane.domain.errors import DomainError
from jobspecs import SpecError

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1

P = ParamSpec("P")
R = TypeVar("R")

stderr = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str, *, code: int = EXIT_BAD_INPUT, hint: str | None = None) -> typer.Exit:
    """Print ``message`` (and ``hint``) to stderr and return the Exit to raise."""
    stderr.print(f"[bold red]error:[/] {message}", markup=True)
    if hint:
        stderr.print(f"[dim]hint:[/] {hint}", markup=True)
    return typer.Exit(code)


def report_api_error(error: ApiError) -> typer.Exit:
    detail = error.detail
    if detail.issues:
        for issue in detail.issues:
            where = f"{issue.file}:{issue.line}: " if issue.file and issue.line else ""
            path = f"{issue.path}: " if issue.path else ""
            hint = f" ({issue.hint})" if issue.hint else ""
            stderr.print(f"[bold red]error:[/] {where}{path}{issue.message}{hint}", markup=True)
        return typer.Exit(EXIT_BAD_INPUT if error.is_client_error else EXIT_FAILURE)
    message = f"{detail.field}: {detail.message}" if detail.field else detail.message
    return fail(message, hint=detail.hint, code=EXIT_BAD_INPUT if error.is_client_error else EXIT_FAILURE)


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so known failures print a paragraph and exit with the right code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SpecError as exc:
            for line in str(exc).splitlines():
                stderr.print(f"[bold red]error:[/] {line}", markup=True, highlight=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except ApiError as exc:
            raise report_api_error(exc) from None
        except ServerUnreachableError as exc:
            raise fail(str(exc), code=EXIT_FAILURE) from None
        except DomainError as exc:
            raise fail(exc.message if not exc.field else f"{exc.field}: {exc.message}", hint=exc.hint) from None
        except OSError as exc:
            raise fail(f"{exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": ")) from None

    return wrapper
