"""One exception hierarchy for the whole registry, rendered as RFC 9457 problem details.

Services raise these; a single set of handlers (``install_problem_handlers``) turns them,
framework validation errors and anything unexpected into ``application/problem+json``.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("registry")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://provenance-registry.dev/problems/"


class RegistryError(Exception):
    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(RegistryError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(RegistryError):
    status, slug, title = 401, "unauthorized", "Missing or invalid API key"


class Forbidden(RegistryError):
    status, slug, title = 403, "forbidden", "Not allowed for this role"


class NotFound(RegistryError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(RegistryError):
    status, slug, title = 409, "conflict", "Conflict"


class ChangedConcurrently(Conflict):
    slug, title = "changed-concurrently", "Changed by a concurrent request"


class PreconditionFailed(RegistryError):
    status, slug, title = 412, "precondition-failed", "The record's ETag does not match If-Match"


class PayloadTooLarge(RegistryError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class ClipTooLongForSyncCheck(RegistryError):
    status, slug, title = 413, "clip-too-long-for-sync-check", "Clip too long to check synchronously"


class UnsupportedMedia(RegistryError):
    status, slug, title = 415, "unsupported-media", "Unsupported media"


class InvalidInput(RegistryError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class InvalidMedia(RegistryError):
    status, slug, title = 422, "invalid-media", "Invalid media"


class InvalidSignature(RegistryError):
    status, slug, title = 422, "invalid-signature", "Invalid signature"


class ServiceUnavailable(RegistryError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


def sentence(detail: str) -> str:
    """An error's detail as a sentence for a person (a page, not a problem document)."""
    detail = detail.strip()
    return (detail[:1].upper() + detail[1:]).rstrip(".") + "."


def problem_response(status: int, slug: str, title: str, detail: str, instance: str,
                     **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status,
            "detail": detail, "instance": instance, **extra}
    headers = {"WWW-Authenticate": 'ApiKey realm="registry"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        errors.append({"location": ".".join(loc), "message": err.get("msg", "invalid")})
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RegistryError)
    async def _registry_error(request: Request, exc: RegistryError) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.title, exc.detail,
                                request.url.path, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return problem_response(400, "malformed-json", "Malformed JSON",
                                    "the request body is not valid JSON", request.url.path)
        errors = _validation_errors(exc)
        summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return problem_response(422, "invalid-input", "Invalid input",
                                summary or "request is invalid", request.url.path,
                                errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large",
                400: "bad-request"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, slug, str(exc.detail), str(exc.detail),
                                request.url.path)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Races past a service's own checks end here: two writers, one unique key.
        reason = str(exc.orig).splitlines()[0][:200] if exc.orig else "constraint violated"
        return problem_response(409, "conflict", "Conflict",
                                f"the change conflicts with an existing record ({reason})",
                                request.url.path)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        # A versioned update flushed outside commit_changes (which names the problem itself).
        return problem_response(409, ChangedConcurrently.slug, ChangedConcurrently.title,
                                "another request changed this record at the same time; "
                                "read it again and retry", request.url.path)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold (e.g. a NUL byte in a multipart form field).
        return problem_response(422, "invalid-input", "Invalid input",
                                "a value in the request cannot be stored: "
                                + (str(exc.orig).splitlines()[0][:200] if exc.orig else "invalid"),
                                request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal-error", "Internal error",
                                "the registry failed to handle this request; it was logged",
                                request.url.path)
