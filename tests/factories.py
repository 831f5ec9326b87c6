"""Building registry records through the public API."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

from tests.conftest import Api


def holder(api: Api, name: str = "Blender Foundation", **extra: Any) -> dict:
    return api.ok("post", "/v1/holders", 201,
                  json={"name": name, "kind": "organisation", **extra})


def builtin_licence(api: Api, identifier: str) -> dict:
    page = api.ok("get", "/v1/licences", params={"identifier": identifier})
    return page["items"][0]


def source(api: Api, holder_ids: list[str], licence_id: str, name: str = "Open movies",
           version: str = "1", **extra: Any) -> dict:
    body = {"name": name, "version": version, "media_types": ["image/png", "video/mp4"],
            "holder_ids": holder_ids, "licence_id": licence_id,
            "acquisition_method": "open_licence", **extra}
    return api.ok("post", "/v1/sources", 201, json=body)


def upload(api: Api, source_id: str, path: Path, status: int = 201, **form: str) -> dict:
    with path.open("rb") as fh:
        response = api.post(f"/v1/sources/{source_id}/assets",
                            files={"file": (path.name, fh)}, data=form)
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def at_once(calls: list) -> list:
    """Run the calls (requests) from as many threads, released together."""
    start = Barrier(len(calls))

    def run(call):  # type: ignore[no-untyped-def]
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))
