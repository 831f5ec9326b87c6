"""Report cost must not grow with what a report covers: the compensation statement of a
model trained on 100 sources with 100 generations, and the clearance of its production of
100 generations (every training source evaluated), make as many database queries as those
of a model with 10 of each."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload

SMALL, LARGE = 10, 100
PERIOD = {"period_start": "2026-01-01", "period_end": "2027-12-31", "pool": "1000.00"}


@contextmanager
def _queries(api: Api) -> Iterator[list[str]]:
    engine = api.client.app.state.engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if "check_job" not in statement:  # the job workers poll the same engine meanwhile
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _model(admin: Api, name: str, sources: list[dict]) -> dict:
    return admin.ok("post", "/v1/models", 201, json={
        "name": name, "version": "1", "owner": "Studio X", "trained_until": "2026-10-01",
        "training_sources": [{"source_id": s["id"], "weight": "1"} for s in sources]})


def _production(admin: Api, model: dict, name: str, generations: int, check_id: str) -> None:
    """``generations`` shots of the model; the first linked to a check matching a work."""
    for n in range(generations):
        admin.ok("post", "/v1/generations", 201, json={
            "model_id": model["id"], "production": name, "title": f"Shot {n}",
            "check_ids": [check_id] if n == 0 else []})


@pytest.fixture
def world(admin: Api) -> dict:
    """Two models, trained on SMALL and on LARGE sources (each with a holder of its own
    besides Ann, a work and a manifest), with productions of as many generations."""
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    ann = holder(admin, "Ann Films")
    sources = [source(admin, [holder(admin, f"Holder {n}")["id"], ann["id"]], cc_by,
                      name=f"Library {n}") for n in range(LARGE)]
    upload(admin, sources[0]["id"], media.image("coffee.png"))
    for s in sources:
        upload(admin, s["id"], media.image("camera.png"))
        admin.ok("post", f"/v1/sources/{s['id']}/manifests", 201)
    check = admin.post("/v1/checks", files=[("files", ("shot.png", media.image("coffee.png").read_bytes()))])
    assert check.status_code == 201 and check.json()["items"][0]["matches"], check.text
    small, large = _model(admin, "small", sources[:SMALL]), _model(admin, "large", sources)
    _production(admin, small, "few", SMALL, check.json()["id"])
    _production(admin, large, "many", LARGE, check.json()["id"])
    return {"small": small, "large": large}


def test_compensation_and_clearance_queries_do_not_grow(admin: Api, world: dict) -> None:
    counts = {}
    for size, production in (("small", "few"), ("large", "many")):
        with _queries(admin) as compensation:
            statement = admin.ok("get", "/v1/reports/compensation",
                                 params={"model_id": world[size]["id"], **PERIOD})
        assert statement["match_total"] != "0"
        with _queries(admin) as clearance:
            report = admin.ok("get", "/v1/reports/clearance", params={"production": production})
        assert report["works"]
        counts[size] = (len(compensation), len(clearance))
    assert counts["large"] == counts["small"], counts
