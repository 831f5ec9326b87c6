"""The documented shape of error responses, so clients and schema checkers know it."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="URI identifying the problem type")
    title: str
    status: int
    detail: str
    instance: str


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem,
            "content": {"application/problem+json": {}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed request (e.g. invalid JSON or multipart body)"),
    401: _problem("Missing, invalid or revoked API key"),
    403: _problem("The key's role may not do this"),
    404: _problem("Unknown id, or a record outside the key's scope"),
    409: _problem("Conflicts with the current state (duplicate, retired record, a change "
                  "made at the same time by another request)"),
    412: _problem("If-Match names a version of the record other than the current one"),
    413: _problem("Body over the size limit, or a clip too long to check synchronously"),
    415: _problem("Upload is not a recognised image or video"),
    422: _problem("Invalid input or media"),
    503: _problem("A required resource (e.g. the signing key) is unavailable"),
}
