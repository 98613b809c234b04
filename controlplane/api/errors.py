"""The one place where errors become HTTP answers.

Domain errors map to 4xx by family; a spec that fails validation is 422 with one issue per
problem (path, message, hint, and line when the document came from a file); a body that is not
JSON is 400. Anything else is a bug and answers 500 without leaking a traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from controlplane.domain.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
)
from controlplane.wire import ErrorBody, ErrorDetail, ErrorIssue
from jobspecs import SpecError

log = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),       # includes InvalidTransitionError
    (InvalidInputError, 422),
]


def status_for(error: DomainError) -> int:
    for family, status in STATUS_BY_ERROR:
        if isinstance(error, family):
            return status
    return 400


def _respond(status: int, detail: ErrorDetail) -> JSONResponse:
    return JSONResponse(status_code=status, content=ErrorBody(error=detail).to_json_dict())


def spec_error_detail(error: SpecError) -> ErrorDetail:
    issues = [ErrorIssue(path=i.path, message=i.message, hint=i.hint,
                         file=None if i.file in (None, "<request>") else i.file, line=i.line)
              for i in error.issues]
    first = issues[0] if issues else None
    message = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues) or str(error)
    return ErrorDetail(code="invalid_spec", message=message, field=first.path if first else None,
                       hint=first.hint if first else None, issues=issues)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return _respond(status_for(exc), ErrorDetail(code=exc.code, message=exc.message, field=exc.field,
                                                     hint=exc.hint, details=exc.details))

    @app.exception_handler(SpecError)
    async def _spec(_: Request, exc: SpecError) -> JSONResponse:
        return _respond(422, spec_error_detail(exc))

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        issues = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
            issues.append(ErrorIssue(path=".".join(loc) or None, message=str(err.get("msg", "invalid"))))
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return _respond(400, ErrorDetail(code="invalid_json", message="the request body is not valid JSON",
                                             hint="send a JSON object (Content-Type: application/json)"))
        message = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues)
        return _respond(422, ErrorDetail(code="invalid_request", message=message or "invalid request",
                                         field=issues[0].path if issues else None, issues=issues))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return _respond(exc.status_code, ErrorDetail(code=code, message=str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(500, ErrorDetail(code="internal", message="internal server error; see the server log"))
