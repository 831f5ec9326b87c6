"""Guards on raw requests, enforced while the body streams in rather than after buffering.

Bodies are limited by size (JSON bodies are small; multipart uploads may be large but not
unbounded), and NUL characters are refused in the path, the query and JSON bodies:
PostgreSQL cannot store them in text and SQLite would, so refusing them at the edge keeps
both backends answering the same clear 422.
"""

from html import escape

from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.core.errors import InvalidInput, PayloadTooLarge, RegistryError, problem_response, sentence

_MULTIPART_OVERHEAD = 64 * 1024
_NUL_MESSAGE = "the request contains a NUL character, which is not allowed"


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes + _MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await _answer(scope, send, InvalidInput(_NUL_MESSAGE))
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        is_json = content_type.startswith("application/json")
        limit = self.max_upload_bytes if content_type.startswith("multipart/") else self.max_json_bytes
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _answer(scope, send, _too_large(limit))
            return
        received, tail = 0, b""
        refusal: RegistryError | None = None

        async def guarded_receive() -> Message:
            nonlocal received, tail, refusal
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    refusal = _too_large(limit)
                elif is_json and (b"\\u0000" in tail + chunk or b"\x00" in chunk):
                    refusal = InvalidInput(_NUL_MESSAGE)
                tail = chunk[-5:]
                if refusal is not None:
                    raise refusal
            return message

        async def guarded_send(message: Message) -> None:
            # The framework turns an exception raised while reading the body into its own
            # 400; the client gets our precise answer instead.
            if refusal is None:
                await send(message)
            elif message["type"] == "http.response.start":
                await _answer(scope, send, refusal)

        await self.app(scope, guarded_receive, guarded_send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body exceeds the {limit:,}-byte limit")


async def _answer(scope: Scope, send: Send, error: RegistryError) -> None:
    accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
    if "text/html" in accept:
        # A browser's form (the portal): the refusal as a sentence on a page, not JSON.
        response: Response = HTMLResponse(
            f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(error.title)}"
            f"</title></head><body><main><h1>{escape(error.title)}</h1><p role=\"alert\">"
            f"{escape(sentence(error.detail))}</p><p><a href=\"/\">Back</a></p>"
            "</main></body></html>", status_code=error.status)
    else:
        response = problem_response(error.status, error.slug, error.title, error.detail,
                                    scope.get("path", "").replace("\x00", ""))
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
