"""One error shape everywhere: {"detail": "...", "code": "..."}."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from core.definition import describe_locations

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    """What every error response carries."""

    detail: str
    code: str


class ApiError(Exception):
    """An error with its HTTP status, machine-readable code and human message."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = headers or {}


class ApiProblems(ApiError):
    """Every problem found with one request at once (422 with the first one's code), so that a
    person fixes them in one go; `problems` lists them."""

    problems: list[str]

    def __init__(self, errors: Sequence[ApiError]) -> None:
        problems = [
            problem
            for error in errors
            for problem in (error.problems if isinstance(error, ApiProblems) else [error.detail])
        ]
        super().__init__(422, errors[0].code, "; ".join(problems))
        self.problems = problems


async def every_problem(*checks: Awaitable[None]) -> None:
    """Run every check in turn; ApiProblems with all their ApiErrors if any raised one."""
    errors = []
    for check in checks:
        try:
            await check
        except ApiError as error:
            errors.append(error)
    if errors:
        raise ApiProblems(errors)


def not_found(kind: str, key: object) -> ApiError:
    """404 for something this project does not have (or that belongs to another project)."""
    return ApiError(404, f"{kind.replace(' ', '_')}_not_found", f"{kind} {key} not found")


def error_response(status: int, code: str, detail: str) -> JSONResponse:
    """The one error shape, as a response."""
    return JSONResponse({"detail": detail, "code": code}, status_code=status)


ErrorPage = Callable[[Request, int, str], Response | None]
"""A page for an error of a page's request (the dashboard's), or None for the JSON shape."""


async def send_error(
    send: Send,
    status: int,
    code: str,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """The error shape, sent by an ASGI middleware that answers before any route."""
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_error_handlers(app: FastAPI, page: ErrorPage = lambda *_: None) -> None:
    """Route every failure through the one error shape (or, for pages, `page`)."""

    def shaped(request: Request, status: int, code: str, detail: str) -> Response:
        return page(request, status, detail) or error_response(status, code, detail)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        response = shaped(request, error.status, error.code, error.detail)
        response.headers.update(error.headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = STATUS_CODES.get(error.status_code, "error")
        response = shaped(request, error.status_code, code, str(error.detail))
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        problems = [
            {**problem, "loc": [p for p in problem["loc"] if p != "body"]}
            for problem in error.errors()
        ]
        return shaped(request, 422, "invalid_request", describe_locations(problems))

    @app.exception_handler(SQLAlchemyTimeout)
    @app.exception_handler(OperationalError)
    async def database_busy(_request: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable or overloaded: %s", error)
        response = error_response(
            503, "database_busy", "the database is busy or unavailable; retry"
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return error_response(500, "internal", "internal error")
