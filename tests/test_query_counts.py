"""Cost must not grow with what a page shows: reports, exports, lookups, claim filings and
model creation over 100 records make as many database queries as over 10.

The compensation statement and the training-content summary of a model trained on 100
sources with 100 generations, and the clearance of its production of 100 generations (every
training source evaluated, their works' C2PA terms and signal evidence read); an audit
export page of 100 records of each type whose logged view has links in other tables (a
source's holders, a model's training sources, a generation's checks, a claim's events); a
rights holder's lookup of a work held in 100 sources; a compensation claim citing 100
training sources (their manifests each proven in the log); creating a model trained on 100
sources, and a generation linked to 100 checks: each counted against the same with 10."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import imagehash
import pytest
from PIL import Image
from sqlalchemy import event

from registry.exports.service import PAGE
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload

SMALL, LARGE = 10, 100
PERIOD = {"period_start": "2026-01-01", "period_end": "2027-12-31", "pool": "1000.00"}
BATCHED = ("source", "ai_model", "generation", "claim")  # audited types with linked rows


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


def _checkpointed(admin: Api, even: bool = False) -> None:
    """A checkpoint signed for the log's size, so that a counted request finds it rather
    than signing one; ``even``: the size made even first (with one more entry if need be),
    as an append to a log of odd size reads a node more than one to a log of even size."""
    size = int(admin.client.get("/v1/log/checkpoint").text.splitlines()[1])
    if even and size % 2:
        holder(admin, "Parity")
        admin.client.get("/v1/log/checkpoint")


def _compensation(api: Api, model: dict) -> dict:
    return api.ok("post", "/v1/claims", 201, json={
        "kind": "compensation", "model_id": model["id"],
        "statement": "My libraries were used to train this model."})


@pytest.fixture
def world(admin: Api) -> dict:
    """SMALL sources (each with a holder of its own besides Ann, a work, a manifest), a
    model trained on them with a production of as many generations, as many models trained
    on one source each and as many claims of Ann's against those; then as many more of each
    up to LARGE (the large model trained on every source). ``mark`` is when the first part
    ended; the small model's creation and the large one's are counted."""
    start = datetime.now(UTC)
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    ann = holder(admin, "Ann Films")
    ann_key = admin.make_key("rights_holder", ann["id"])
    world: dict = {"start": start, "ann_key": ann_key, "created": {}}
    sources: list[dict] = []

    def part(size: str, count: int, check_id: str | None) -> str:
        new = [source(admin, [holder(admin, f"Holder {n}")["id"], ann["id"]], cc_by,
                      name=f"Library {n}") for n in range(len(sources), count)]
        sources.extend(new)
        if check_id is None:  # the first part: a work of its own, and one held by all
            upload(admin, new[0]["id"], media.image("coffee.png"))
        for s in new:
            upload(admin, s["id"], media.image("camera.png"))  # the same work everywhere
            if size == "small":
                upload(admin, s["id"], media.image("astronaut.png"))
            admin.ok("post", f"/v1/sources/{s['id']}/manifests", 201)
        if check_id is None:
            check = admin.post("/v1/checks", files=[
                ("files", ("shot.png", media.image("coffee.png").read_bytes()))])
            assert check.status_code == 201 and check.json()["items"][0]["matches"], check.text
            check_id = check.json()["id"]
        _checkpointed(admin, even=True)
        with _queries(admin) as created:
            world[size] = _model(admin, size, sources)
        world["created"][size] = len(created)
        _production(admin, world[size], "few" if size == "small" else "many", count, check_id)
        for s in new:
            _compensation(ann_key, _model(admin, f"single {s['name']}", [s]))
        return check_id

    check_id = part("small", SMALL, None)
    world["mark"] = datetime.now(UTC)
    part("large", LARGE, check_id)
    world["end"] = datetime.now(UTC)
    return world


def test_compensation_clearance_and_training_summary_queries_do_not_grow(admin: Api, world: dict) -> None:
    counts = {}
    for size, production in (("small", "few"), ("large", "many")):
        path = f"/v1/models/{world[size]['id']}/training-summary"
        admin.ok("put", f"{path}/statement", 201, json={
            "summary_version": "1", "provider_name": "Studio X", "provider_contact": "legal@studio.example"})
        admin.ok("get", path)  # the live index catches up with the world's new fingerprints first
        with _queries(admin) as summary:
            document = admin.ok("get", path)
        assert len(document["sources"]["public_datasets"]) == len(document["processing"]["tdm_evidence"]) == (
            SMALL if size == "small" else LARGE)
        with _queries(admin) as compensation:
            statement = admin.ok("get", "/v1/reports/compensation",
                                 params={"model_id": world[size]["id"], **PERIOD})
        assert statement["match_total"] != "0"
        with _queries(admin) as clearance:
            report = admin.ok("get", "/v1/reports/clearance", params={"production": production})
        assert report["works"]
        counts[size] = (len(compensation), len(clearance), len(summary))
    assert counts["large"] == counts["small"], counts


def _export(admin: Api, since: datetime, until: datetime) -> tuple[dict, int]:
    """The export's trailer and the queries it made."""
    _checkpointed(admin)
    with _queries(admin) as seen:
        response = admin.get("/v1/exports/audit", params={
            "since": since.isoformat(), "until": until.isoformat(), "format": "jsonl"})
    assert response.status_code == 200, response.text
    trailer = json.loads(response.text.splitlines()[-1])
    assert trailer["section"] == "trailer" and trailer["entries"] < PAGE  # one page of each
    return trailer, len(seen)


def _lookup(api: Api, image: str) -> tuple[list[dict], int]:
    phash = str(imagehash.phash(Image.open(media.image(image))))
    with _queries(api) as seen:
        result = api.ok("post", "/v1/lookups/fingerprints", json={"phashes": [phash]})
    return result["items"][0]["works"], len(seen)


def test_export_lookup_claim_and_creation_queries_do_not_grow(admin: Api, world: dict) -> None:
    counts: dict[str, dict[str, int]] = {"small": {}, "large": {}}
    # Creating a model: every training source and its latest manifest loaded at once.
    for size in counts:
        counts[size]["create model"] = world["created"][size]
    # Creating a generation linked to 10, then 100, checks: all loaded at once.
    checks = [admin.ok("post", "/v1/checks/fingerprints", 201,
                       json={"phashes": [f"{n:016x}"]})["id"] for n in range(LARGE)]
    for size, linked in (("small", SMALL), ("large", LARGE)):
        _checkpointed(admin, even=True)
        with _queries(admin) as created:
            admin.ok("post", "/v1/generations", 201, json={
                "model_id": world[size]["id"], "production": "linked", "title": size,
                "check_ids": checks[:linked]})
        counts[size]["create generation"] = len(created)
    # An export page of 10, then of 100, records of each type with linked rows.
    for size, until, least in (("small", world["mark"], SMALL), ("large", world["end"], LARGE)):
        trailer, counts[size]["export"] = _export(admin, world["start"], until)
        assert all(trailer["records_by_type"][t] >= least for t in BATCHED), trailer
        assert trailer["records_by_type"]["source"] == least
    # A rights holder's lookup of a work held in 10 sources, then of one held in 100: as
    # many queries as the lookup of a work held in one (the index finds 10 copies of the
    # first two, each walked; the first lookup catches the index up: not counted).
    ann: Api = world["ann_key"]
    _lookup(ann, "coffee.png")
    [work], one = _lookup(ann, "coffee.png")
    assert len(work["copies"]) == 1
    for size, image, copies in (("small", "astronaut.png", SMALL), ("large", "camera.png", LARGE)):
        works, counts[size]["lookup"] = _lookup(ann, image)
        assert len(works) == SMALL and all(len(w["copies"]) == copies for w in works), works
        assert counts[size]["lookup"] == one, (size, counts[size]["lookup"], one)
    # Ann's compensation claims: evidence citing 10, then 100, training sources (each
    # manifest proven in the log).
    for size, cited in (("small", SMALL), ("large", LARGE)):
        _checkpointed(admin, even=True)
        with _queries(ann) as filing:
            evidence = _compensation(ann, world[size])["evidence"]
        assert len(evidence["training_sources"]) == len(evidence["manifests"]) == cited
        counts[size]["claim"] = len(filing)
    assert counts["large"] == counts["small"], counts
