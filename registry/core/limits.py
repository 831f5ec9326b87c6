"""Request body limits, enforced while the body streams in rather than after it is buffered."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.core.errors import PayloadTooLarge, problem_response

_MULTIPART_OVERHEAD = 64 * 1024


class BodySizeLimit:
    """JSON bodies are small; multipart uploads may be large but not unbounded."""

    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes + _MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = (self.max_upload_bytes if content_type.startswith("multipart/")
                 else self.max_json_bytes)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _reject(scope, send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the app, so the problem+json handlers render it.
                    raise PayloadTooLarge(f"request body exceeds the {limit:,}-byte limit")
            return message

        await self.app(scope, limited_receive, send)


async def _reject(scope: Scope, send: Send, limit: int) -> None:
    response = problem_response(413, "payload-too-large", "Payload too large",
                                f"request body exceeds the {limit:,}-byte limit",
                                scope.get("path", ""))
    await response(scope, lambda: None, send)  # type: ignore[arg-type]
