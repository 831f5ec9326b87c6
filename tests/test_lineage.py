"""Lineage through the HTTP API on real images: models pinned to signed manifests, generations
linked to their near-copy checks, and the walks work → models → generations and back."""

from decimal import Decimal

import pytest
from PIL import Image
from sqlmodel import Session

from registry.lineage import service
from tests import media
from tests.conftest import Api
from tests.factories import source, upload
from tests.worlds import jpeg, lineage_world, near_copy_of_astronaut, seeded


def _check(api: Api, name: str, content: bytes) -> dict:
    response = api.post("/v1/checks", files=[("files", (name, content))])
    assert response.status_code == 201, response.text
    return response.json()


def _model_body(name: str, *sources: dict, **extra: object) -> dict:
    return {"name": name, "version": "1.0", "owner": "Example Studio",
            "trained_from": "2026-01-01", "trained_until": "2026-06-30",
            "training_sources": list(sources), **extra}


world = seeded(lineage_world)


@pytest.fixture
def generation(admin: Api, world: dict) -> dict:
    check = _check(admin, "shot-12.jpg", near_copy_of_astronaut())
    assert check["verdict"] == "copy"
    return admin.ok("post", "/v1/generations", 201, json={
        "model_id": world["model"]["id"], "production": "Space Opera", "title": "Shot 12",
        "media_type": "image/jpeg", "check_ids": [check["id"]]}) | {"check": check}


def test_model_pins_each_source_to_a_manifest(admin: Api, world: dict) -> None:
    model, films, mirror = world["model"], world["films"], world["mirror"]
    assert model["id"].startswith("mdl_") and model["trained_until"] == "2026-06-30"
    mix = {s["source_id"]: s for s in model["training_sources"]}
    assert mix[films["id"]] == {"source_id": films["id"], "manifest_id": world["films_manifest"]["id"],
                                "manifest_sha256": world["films_manifest"]["payload_sha256"],
                                "weight": "0.700000"}
    assert mix[mirror["id"]]["manifest_id"] == world["mirror_manifest"]["id"]
    assert Decimal(mix[mirror["id"]]["weight"]) == Decimal("0.3")
    assert admin.ok("get", f"/v1/models/{model['id']}") == model

    # A later signature becomes the default version; an explicit older one stays pinned.
    newer = admin.ok("post", f"/v1/sources/{films['id']}/manifests", 201)
    later = admin.ok("post", "/v1/models", 201, json=_model_body(
        "Dreamer", {"source_id": films["id"], "weight": "2"}, version="2.0"))
    assert later["training_sources"][0]["manifest_id"] == newer["id"]
    assert admin.ok("get", f"/v1/models/{model['id']}")["training_sources"] == model["training_sources"]

    page = admin.ok("get", "/v1/models", params={"limit": 1})
    assert [m["id"] for m in page["items"]] == [model["id"]] and page["next_cursor"]
    rest = admin.ok("get", "/v1/models", params={"cursor": page["next_cursor"]})
    assert [m["id"] for m in rest["items"]] == [later["id"]] and rest["next_cursor"] is None
    trained_on_mirror = admin.ok("get", "/v1/models", params={"source_id": mirror["id"]})
    assert [m["id"] for m in trained_on_mirror["items"]] == [model["id"]]
    assert admin.ok("get", "/v1/models", params={"owner": "Nobody"})["items"] == []

    retired = admin.ok("post", f"/v1/models/{later['id']}/retire", json={"reason": "withdrawn"})
    assert retired["retired_reason"] == "withdrawn" and retired["retired_at"]
    live = admin.ok("get", "/v1/models", params={"retired": "false", "name": "Dream"})
    assert [m["id"] for m in live["items"]] == [model["id"]]


def test_generation_lineage_walks_to_the_copied_work(admin: Api, world: dict,
                                                     generation: dict) -> None:
    check = generation["check"]
    assert generation["id"].startswith("gen_") and generation["check_ids"] == [check["id"]]
    assert generation["intended_use"] == "commercial_release"
    lineage = admin.ok("get", f"/v1/generations/{generation['id']}/lineage")
    assert lineage["generation"]["id"] == generation["id"]
    assert lineage["model"]["id"] == world["model"]["id"]
    sources = {s["source_id"]: s for s in lineage["sources"]}
    films = sources[world["films"]["id"]]
    assert (films["licence"], films["holder_ids"]) == ("CC-BY-4.0", [world["ann"]["id"]])
    assert films["weight"] == "0.700000" and films["asset_count"] == 2
    assert films["manifest_id"] == world["films_manifest"]["id"]
    assert sources[world["mirror"]["id"]]["licence"] == "CC-BY-NC-4.0"

    astronauts = {world["assets"]["astronaut"]["id"], world["assets"]["mirrored"]["id"]}
    works = lineage["works"]
    assert works and {w["asset_id"] for w in works} <= astronauts
    top = works[0]
    assert top["check_id"] == check["id"] and top["item_name"] == "shot-12.jpg"
    assert top["verdict"] == "copy" and 0.5 <= top["score"] <= 1
    assert top["checked_at"].startswith(check["created_at"][:19])
    # The astronaut was in both pinned manifests, so both sources trained the model on it.
    assert top["training_source_ids"] == sorted([world["films"]["id"], world["mirror"]["id"]])


def test_asset_lineage_walks_to_models_and_generations(admin: Api, world: dict,
                                                      generation: dict) -> None:
    astronaut, mirrored = world["assets"]["astronaut"], world["assets"]["mirrored"]
    lineage = admin.ok("get", f"/v1/assets/{astronaut['id']}/lineage")
    assert (lineage["asset_id"], lineage["sha256"]) == (astronaut["id"], astronaut["sha256"])
    copies = {c["asset_id"]: c for c in lineage["copies"]}
    assert set(copies) == {astronaut["id"], mirrored["id"]}
    assert copies[mirrored["id"]]["licence"] == "CC-BY-NC-4.0"
    assert copies[mirrored["id"]]["holder_ids"] == [world["bob"]["id"]]

    sources = {s["source_id"]: s for s in lineage["sources"]}
    assert set(sources) == {world["films"]["id"], world["mirror"]["id"]}
    films = sources[world["films"]["id"]]
    assert films["asset_ids"] == [astronaut["id"]] and films["licence"] == "CC-BY-4.0"
    [trained] = films["models"]
    assert trained["model_id"] == world["model"]["id"] and trained["weight"] == "0.700000"
    assert trained["manifest_id"] == world["films_manifest"]["id"]
    assert (trained["trained_from"], trained["trained_until"]) == ("2026-01-01", "2026-06-30")

    hits = lineage["generations"]
    assert hits and {h["generation_id"] for h in hits} == {generation["id"]}
    assert {h["asset_id"] for h in hits} <= {astronaut["id"], mirrored["id"]}
    assert hits[0]["check_id"] == generation["check"]["id"] and hits[0]["verdict"] == "copy"
    assert hits[0]["production"] == "Space Opera" and hits[0]["score"] > 0.5

    # An unrelated work: trained on (it is in the films manifest) but never generated.
    coffee = admin.ok("get", f"/v1/assets/{world['assets']['coffee']['id']}/lineage")
    assert [c["asset_id"] for c in coffee["copies"]] == [world["assets"]["coffee"]["id"]]
    assert coffee["sources"][0]["models"][0]["model_id"] == world["model"]["id"]
    assert coffee["generations"] == []

    # Retired models drop out of the walk; the generations they made stay.
    admin.ok("post", f"/v1/models/{world['model']['id']}/retire", json={"reason": "replaced"})
    after = admin.ok("get", f"/v1/assets/{astronaut['id']}/lineage")
    assert all(s["models"] == [] for s in after["sources"]) and after["generations"] == hits


def test_linking_checks_and_listing_generations(admin: Api, world: dict, generation: dict,
                                                cli) -> None:  # type: ignore[no-untyped-def]
    coffee = _check(admin, "shot-13.jpg", jpeg(Image.open(media.image("coffee.png"))))
    path = f"/v1/generations/{generation['id']}/checks"
    linked = admin.ok("post", path, 201, json={"check_id": coffee["id"]})
    assert linked["check_ids"] == sorted([generation["check"]["id"], coffee["id"]])
    assert admin.post(path, json={"check_id": coffee["id"]}).status_code == 409
    assert admin.post(path, json={"check_id": "chk_unknown"}).status_code == 404
    assert admin.post("/v1/generations/gen_unknown/checks",
                      json={"check_id": coffee["id"]}).status_code == 404
    works = admin.ok("get", f"/v1/generations/{generation['id']}/lineage")["works"]
    assert world["assets"]["coffee"]["id"] in {w["asset_id"] for w in works}
    assert {w["check_id"] for w in works} == {generation["check"]["id"], coffee["id"]}

    other = admin.ok("post", "/v1/generations", 201, json={
        "model_id": world["model"]["id"], "production": "Documentary", "title": "Intro",
        "intended_use": "noncommercial_research"})
    assert other["check_ids"] == [] and other["sha256"] is None
    assert admin.ok("get", f"/v1/generations/{other['id']}/lineage")["works"] == []
    by_production = admin.ok("get", "/v1/generations", params={"production": "Space Opera"})
    assert [g["id"] for g in by_production["items"]] == [generation["id"]]
    by_model = admin.ok("get", "/v1/generations", params={"model_id": world["model"]["id"]})
    assert [g["id"] for g in by_model["items"]] == [generation["id"], other["id"]]
    assert admin.ok("get", f"/v1/generations/{other['id']}") == other
    result = cli("verify-log")
    assert result.exit_code == 0, result.output


def test_contract_helpers(client, world: dict, generation: dict) -> None:  # type: ignore[no-untyped-def]
    films, mirror = world["films"]["id"], world["mirror"]["id"]
    astronaut = world["assets"]["astronaut"]["id"]
    with Session(client.app.state.engine) as session:
        trained = service.models_trained_on(session, [films, mirror, "src_none"])
        assert set(trained) == {films, mirror}
        [(model, link)] = trained[films]
        assert model.id == world["model"]["id"] and link.weight == Decimal("0.7")
        mix = service.training_mix(session, model.id)
        assert [m.source_id for m in mix] == sorted([films, mirror])
        matches = service.generation_matches(session, generation["id"])
        assert matches and matches[0]["check_id"] == generation["check"]["id"]
        assert matches[0]["item_name"] == "shot-12.jpg" and matches[0]["checked_at"]
        hits = service.generations_matching(session, [astronaut])
        many = [f"ast_{i:026d}" for i in range(1500)] + [astronaut]  # a lookup's worth of ids
        assert [(g.id, m) for g, m in service.generations_matching(session, many)] == \
            [(g.id, m) for g, m in hits]
        assert hits and all(g.id == generation["id"] and m["asset_id"] == astronaut
                            for g, m in hits)
        assert service.generations_matching(session, [world["assets"]["coffee"]["id"]]) == []


def test_roles_and_scope(admin: Api, curator: Api, auditor: Api, world: dict, generation: dict,
                         client) -> None:  # type: ignore[no-untyped-def]
    ann = admin.make_key("rights_holder", holder_id=world["ann"]["id"])
    own, foreign = world["assets"]["astronaut"]["id"], world["assets"]["chelsea"]["id"]
    mine = ann.ok("get", f"/v1/assets/{own}/lineage")
    assert {h["generation_id"] for h in mine["generations"]} == {generation["id"]}
    assert ann.get(f"/v1/assets/{foreign}/lineage").status_code == 404
    assert ann.get(f"/v1/assets/{world['assets']['mirrored']['id']}/lineage").status_code == 404
    assert ann.ok("get", f"/v1/models/{world['model']['id']}")["id"] == world["model"]["id"]
    assert ann.ok("get", "/v1/models")["items"]
    for path in ("/v1/generations", f"/v1/generations/{generation['id']}",
                 f"/v1/generations/{generation['id']}/lineage"):
        assert ann.get(path).status_code == 403
    body = _model_body("Holder model", {"source_id": world["films"]["id"], "weight": "1"})
    assert ann.post("/v1/models", json=body).status_code == 403

    # Auditors read everything and change nothing.
    assert auditor.ok("get", f"/v1/generations/{generation['id']}/lineage")["works"]
    assert auditor.ok("get", f"/v1/assets/{foreign}/lineage")["asset_id"] == foreign
    assert auditor.ok("get", "/v1/generations")["items"]
    assert auditor.post("/v1/models", json=body).status_code == 403
    assert auditor.post(f"/v1/models/{world['model']['id']}/retire",
                        json={"reason": "nope"}).status_code == 403
    gen_body = {"model_id": world["model"]["id"], "production": "P", "title": "T"}
    assert auditor.post("/v1/generations", json=gen_body).status_code == 403
    assert auditor.post(f"/v1/generations/{generation['id']}/checks",
                        json={"check_id": generation["check"]["id"]}).status_code == 403

    # Curators register models and generations, linking only checks they may read.
    assert curator.ok("post", "/v1/models", 201, json=body)["name"] == "Holder model"
    assert curator.post("/v1/generations", json=gen_body | {
        "check_ids": [generation["check"]["id"]]}).status_code == 404
    own_check = _check(curator, "c.jpg", near_copy_of_astronaut())
    made = curator.ok("post", "/v1/generations", 201, json=gen_body | {"check_ids": [own_check["id"]]})
    assert curator.ok("get", f"/v1/generations/{made['id']}/lineage")["works"]

    for path in ("/v1/models", f"/v1/assets/{own}/lineage", "/v1/generations"):
        assert client.get(path).status_code == 401


def test_bad_input(admin: Api, world: dict, generation: dict, cli) -> None:  # type: ignore[no-untyped-def]
    films, mirror = world["films"]["id"], world["mirror"]["id"]

    def status(*sources: dict, **extra: object) -> int:
        return admin.post("/v1/models", json=_model_body("Bad", *sources, **extra)).status_code

    assert status({"source_id": "src_unknown", "weight": "1"}) == 404
    assert status({"source_id": films, "manifest_id": "man_unknown", "weight": "1"}) == 404
    assert status({"source_id": films, "manifest_id": world["mirror_manifest"]["id"],
                   "weight": "1"}) == 422
    assert status({"source_id": films, "weight": "1"}, {"source_id": films, "weight": "2"}) == 422
    for weight in ("0", "-1", "0.0000001", "1e9", "abc", "NaN", "Infinity"):
        assert status({"source_id": films, "weight": weight}) == 422, weight
    assert status() == 422
    assert status({"source_id": films, "weight": "1"}, trained_from="2027-01-01") == 422
    assert status({"source_id": films, "weight": "1"}, colour="red") == 422
    taken = _model_body("Dreamer", {"source_id": films, "weight": "1"})  # name+version exist
    assert admin.post("/v1/models", json=taken).status_code == 409
    unsigned = source(admin, [world["ann"]["id"]], world["cc_by"]["id"], name="Unsigned")
    upload(admin, unsigned["id"], media.image("camera.png"))
    response = admin.post("/v1/models", json=_model_body("Bad", {"source_id": unsigned["id"],
                                                                 "weight": "1"}))
    assert response.status_code == 409 and "sign a manifest first" in response.json()["detail"]
    admin.ok("post", f"/v1/sources/{mirror}/retire", json={"reason": "taken down"})
    assert status({"source_id": mirror, "weight": "1"}) == 409

    model_id = world["model"]["id"]
    assert admin.get("/v1/models/mdl_unknown").status_code == 404
    assert admin.post("/v1/models/mdl_unknown/retire", json={"reason": "gone"}).status_code == 404
    gen = {"model_id": model_id, "production": "P", "title": "T"}
    assert admin.post("/v1/generations", json=gen | {"model_id": "mdl_unknown"}).status_code == 404
    assert admin.post("/v1/generations", json=gen | {"check_ids": ["chk_unknown"]}).status_code == 404
    assert admin.post("/v1/generations", json=gen | {"intended_use": "piracy"}).status_code == 422
    assert admin.post("/v1/generations", json=gen | {"sha256": "xyz"}).status_code == 422
    assert admin.post("/v1/generations", json=gen | {"media_type": "jpeg"}).status_code == 422
    assert admin.get("/v1/generations/gen_unknown").status_code == 404
    assert admin.get("/v1/generations/gen_unknown/lineage").status_code == 404
    assert admin.get("/v1/assets/ast_unknown/lineage").status_code == 404
    assert admin.get("/v1/models", params={"cursor": "!!"}).status_code == 422

    admin.ok("post", f"/v1/models/{model_id}/retire", json={"reason": "withdrawn"})
    assert admin.post(f"/v1/models/{model_id}/retire", json={"reason": "again"}).status_code == 409
    assert admin.post("/v1/generations", json=gen).status_code == 409
    # Existing generations of a retired model keep their record and lineage.
    assert admin.ok("get", f"/v1/generations/{generation['id']}/lineage")["model"]["retired_at"]
    result = cli("verify-log")  # every write above, refused or not, left the log consistent
    assert result.exit_code == 0, result.output
