"""Training opt-outs, the flags they raise (with licence expiries), and the evaluation hook."""

import hashlib
import io

import imagehash
import pytest
from PIL import Image

from tests import media
from tests.conftest import Api
from tests.factories import source, upload
from tests.worlds import optouts_world, seeded

OPT_OUT_DATE = "2026-03-01T00:00:00Z"


def _phash(image: Image.Image) -> str:
    return str(imagehash.phash(image))


def _model(api: Api, name: str, trained_until: str, *source_ids: str) -> dict:
    return api.ok("post", "/v1/models", 201, json={
        "name": name, "version": "1", "owner": "Lab", "trained_until": trained_until,
        "training_sources": [{"source_id": s, "weight": "1"} for s in source_ids]})


def _evaluate(api: Api, source_id: str, use: str, on: str) -> dict:
    return api.ok("post", "/v1/evaluations", json={"source_ids": [source_id], "use": use, "on": on})


world = seeded(optouts_world)


def _opt_out_flags(flags: dict) -> set[tuple[str, str]]:
    return {(f["source_id"], f["asset_id"]) for f in flags["sources"] if f["kind"] == "opt_out"}


def test_opt_out_flags_sources_and_later_models_and_denies_training(
        admin: Api, curator: Api, auditor: Api, world: dict, cli) -> None:  # type: ignore[no-untyped-def]
    ann: Api = world["ann_key"]
    _model(admin, "early", "2026-02-15", world["ann_src"]["id"], world["crawl"]["id"])
    late = _model(admin, "late", "2026-06-30", world["crawl"]["id"])
    unrelated = _model(admin, "unrelated", "2026-06-30", world["bob_src"]["id"])
    local = _phash(Image.open(media.image("coffee.png")))
    opt_out = ann.ok("post", "/v1/opt-outs", 201, json={
        "phash": local.upper(), "effective_from": OPT_OUT_DATE, "note": "TDM reservation"})
    assert (opt_out["holder_id"], opt_out["phash"], opt_out["sha256"]) == (world["ann"]["id"], local, None)

    flags = admin.ok("get", "/v1/flags")
    assert _opt_out_flags(flags) == {(world["ann_src"]["id"], world["coffee"]["id"]),
                                     (world["crawl"]["id"], world["coffee_copy"]["id"])}
    by_asset = {f["asset_id"]: f for f in flags["sources"]}
    assert by_asset[world["coffee"]["id"]]["distance"] == 0
    copy = by_asset[world["coffee_copy"]["id"]]  # a different file: found by its pHash
    assert copy["via"] == "phash" and copy["distance"] <= flags["phash_radius"] == 8
    assert by_asset[world["coffee_copy"]["id"]]["effective_from"].startswith("2026-03-01T00:00:00")
    assert by_asset[world["coffee_copy"]["id"]]["opt_out_id"] == opt_out["id"]
    flagged_models = {(m["model_id"], m["source_id"]) for m in flags["models"]}
    assert flagged_models == {(late["id"], world["crawl"]["id"])}  # early ended before the date
    assert unrelated["id"] not in {m["model_id"] for m in flags["models"]}
    assert curator.ok("get", "/v1/flags") == flags and auditor.ok("get", "/v1/flags") == flags
    # Ann sees flags on her own works only: the crawled copy is registered as Bob's.
    mine = ann.ok("get", "/v1/flags")
    assert _opt_out_flags(mine) == {(world["ann_src"]["id"], world["coffee"]["id"])}
    assert mine["models"] == []
    assert _opt_out_flags(world["bob_key"].ok("get", "/v1/flags")) == set()

    # Licence evaluation: every use trains, so every use is denied once the opt-out applies.
    for use in ("commercial_training", "commercial_release", "noncommercial_research"):
        denied = _evaluate(admin, world["crawl"]["id"], use, "2026-04-01")
        assert denied["verdict"] == "denied"
        [reason] = [r for r in denied["reasons"] if r["code"] == "opted_out"]
        assert (reason["opt_out_id"], reason["asset_id"]) == (opt_out["id"], world["coffee_copy"]["id"])
        assert opt_out["id"] in reason["message"] and world["coffee_copy"]["id"] in reason["message"]
    on_the_day = _evaluate(admin, world["ann_src"]["id"], "commercial_training", "2026-03-01")
    assert on_the_day["verdict"] == "denied"
    before = _evaluate(admin, world["crawl"]["id"], "commercial_training", "2026-02-28")
    assert before["verdict"] == "conditional" and before["reasons"] == []
    assert _evaluate(admin, world["bob_src"]["id"], "commercial_training", "2026-04-01")["verdict"] == "conditional"

    # A copy added to Bob's stills after their manifest was signed flags the source, not the
    # model trained on the earlier version.
    added = upload(admin, world["bob_src"]["id"], media.image("coffee.png"))
    flags = admin.ok("get", "/v1/flags")
    assert (world["bob_src"]["id"], added["id"]) in _opt_out_flags(flags)
    assert {m["model_id"] for m in flags["models"]} == {late["id"]}

    # Withdrawal clears it everywhere; the record stays, retired.
    withdrawn = ann.ok("post", f"/v1/opt-outs/{opt_out['id']}/retire", json={"reason": "licensed now"})
    assert withdrawn["retired_reason"] == "licensed now"
    assert ann.post(f"/v1/opt-outs/{opt_out['id']}/retire", json={"reason": "again"}).status_code == 409
    cleared = admin.ok("get", "/v1/flags")
    assert _opt_out_flags(cleared) == set() and cleared["models"] == []
    assert _evaluate(admin, world["crawl"]["id"], "commercial_training", "2026-04-01")["verdict"] == "conditional"
    assert [o["id"] for o in ann.ok("get", "/v1/opt-outs", params={"retired": True})["items"]] == [opt_out["id"]]
    assert ann.ok("get", "/v1/opt-outs", params={"retired": False})["items"] == []
    # Filing and withdrawal are in the audit log, and the database replays against it.
    entries = admin.ok("get", "/v1/log/entries", params={"entity_id": opt_out["id"]})["items"]
    assert [e["action"] for e in entries] == ["opt_out.created", "opt_out.retired"]
    assert entries[-1]["data"]["phash"] == local
    verified = cli("verify-log")
    assert verified.exit_code == 0, verified.output


def test_opt_out_by_digest_filed_by_admin_and_scoped(admin: Api, curator: Api, auditor: Api,
                                                      world: dict) -> None:
    digest = hashlib.sha256(media.image("chelsea.png").read_bytes()).hexdigest()
    assert admin.post("/v1/opt-outs", json={"sha256": digest, "effective_from": OPT_OUT_DATE}).status_code == 422
    filed = admin.ok("post", "/v1/opt-outs", 201, json={
        "holder_id": world["bob"]["id"], "sha256": digest.upper(), "effective_from": "2026-03-01T09:00:00+09:00"})
    assert filed["sha256"] == digest and filed["phash"] is None
    assert filed["effective_from"].startswith("2026-03-01T00:00:00")  # stored in UTC
    bob: Api = world["bob_key"]
    ann: Api = world["ann_key"]
    [flag] = [f for f in bob.ok("get", "/v1/flags")["sources"] if f["kind"] == "opt_out"]
    assert (flag["asset_id"], flag["via"], flag["distance"]) == (world["chelsea"]["id"], "sha256", 0)
    # Scope: the holder's own opt-outs only; others' are 404 to it; readers see all.
    assert [o["id"] for o in bob.ok("get", "/v1/opt-outs")["items"]] == [filed["id"]]
    assert ann.ok("get", "/v1/opt-outs")["items"] == []
    assert ann.get(f"/v1/opt-outs/{filed['id']}").status_code == 404
    assert ann.post(f"/v1/opt-outs/{filed['id']}/retire", json={"reason": "not mine"}).status_code == 404
    assert bob.ok("get", f"/v1/opt-outs/{filed['id']}")["id"] == filed["id"]
    for reader in (admin, curator, auditor):
        assert [o["id"] for o in reader.ok("get", "/v1/opt-outs")["items"]] == [filed["id"]]
    assert admin.ok("get", "/v1/opt-outs", params={"holder_id": world["ann"]["id"]})["items"] == []
    # Filing and withdrawing: holders for themselves, admins for anyone; nobody else.
    body = {"sha256": digest, "effective_from": OPT_OUT_DATE}
    assert ann.post("/v1/opt-outs", json=body | {"holder_id": world["bob"]["id"]}).status_code == 403
    assert ann.post("/v1/opt-outs", json=body | {"holder_id": world["ann"]["id"]}).status_code == 201
    for role in (curator, auditor):
        assert role.post("/v1/opt-outs", json=body | {"holder_id": world["bob"]["id"]}).status_code == 403
        assert role.post(f"/v1/opt-outs/{filed['id']}/retire", json={"reason": "no"}).status_code == 403
    assert admin.ok("post", f"/v1/opt-outs/{filed['id']}/retire", json={"reason": "withdrawn by letter"})


def test_bad_input_and_unknown_ids(admin: Api, client, world: dict) -> None:  # type: ignore[no-untyped-def]
    ann: Api = world["ann_key"]
    for body in ({"phash": "xyz", "effective_from": OPT_OUT_DATE},
                 {"phash": "0123456789abcdef0", "effective_from": OPT_OUT_DATE},
                 {"sha256": "ab" * 31, "effective_from": OPT_OUT_DATE},
                 {"effective_from": OPT_OUT_DATE, "note": "which work?"},
                 {"phash": "0123456789abcdef", "effective_from": "2026-03-01T00:00:00"},  # no offset
                 {"phash": "0123456789abcdef"},
                 {"phash": "0123456789abcdef", "effective_from": OPT_OUT_DATE, "scope": "all"}):
        response = ann.post("/v1/opt-outs", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert admin.post("/v1/opt-outs", json={"holder_id": "hld_nope", "phash": "0123456789abcdef",
                                             "effective_from": OPT_OUT_DATE}).status_code == 404
    assert admin.get("/v1/opt-outs/opt_nope").status_code == 404
    assert admin.post("/v1/opt-outs/opt_nope/retire", json={"reason": "gone"}).status_code == 404
    assert admin.get("/v1/flags", params={"on": "not-a-date"}).status_code == 422
    for method, path in (("get", "/v1/opt-outs"), ("get", "/v1/flags"), ("post", "/v1/opt-outs")):
        assert getattr(client, method)(path).status_code == 401


def test_licence_expiry_flags_sources_and_models_trained_after_it(admin: Api, world: dict) -> None:
    deal = admin.ok("post", "/v1/licences", 201, json={
        "identifier": "LicenseRef-Archive-Deal", "name": "Archive deal", "commercial_use": True,
        "derivatives": True, "attribution_required": False, "ai_training": "allowed",
        "valid_until": "2026-01-31"})
    archive = source(admin, [world["bob"]["id"]], deal["id"], name="Archive")
    upload(admin, archive["id"], media.image("camera.png"))
    # One asset of Ann's stills is under its own (expired) licence.
    own = upload(admin, world["ann_src"]["id"], media.image("astronaut.png"), licence_id=deal["id"])
    for src in (archive, world["ann_src"]):
        admin.ok("post", f"/v1/sources/{src['id']}/manifests", 201)
    before = _model(admin, "before", "2026-01-15", archive["id"], world["ann_src"]["id"])
    after = _model(admin, "after", "2026-02-10", archive["id"])
    flags = admin.ok("get", "/v1/flags", params={"on": "2026-02-15"})
    expired = {(f["source_id"], f["asset_id"], f["licence_id"]) for f in flags["sources"]
               if f["kind"] == "licence_expired"}
    assert expired == {(archive["id"], None, deal["id"]), (world["ann_src"]["id"], own["id"], deal["id"])}
    assert all(f["valid_until"] == "2026-01-31" for f in flags["sources"])
    assert {(m["model_id"], m["source_id"]) for m in flags["models"]} == {(after["id"], archive["id"])}
    assert before["id"] not in {m["model_id"] for m in flags["models"]}
    # Not expired yet on the last day of the licence.
    assert admin.ok("get", "/v1/flags", params={"on": "2026-01-31"})["sources"] == []
    # Scope: Ann sees her source's expired asset licence, not Bob's archive.
    ann_flags = world["ann_key"].ok("get", "/v1/flags", params={"on": "2026-02-15"})
    assert [(f["source_id"], f["asset_id"]) for f in ann_flags["sources"]] == [(world["ann_src"]["id"], own["id"])]


def test_opt_out_of_a_still_flags_the_clip_it_appears_in(admin: Api, world: dict) -> None:
    films = upload(admin, world["ann_src"]["id"], media.clip("bikes.mp4"))
    still = media.frame_at(media.clip("bikes.mp4"), 6.0)
    buffer = io.BytesIO()
    still.convert("RGB").save(buffer, format="JPEG", quality=60)
    opt_out = world["ann_key"].ok("post", "/v1/opt-outs", 201, json={
        "phash": _phash(Image.open(buffer)), "effective_from": OPT_OUT_DATE})
    [flag] = [f for f in admin.ok("get", "/v1/flags")["sources"] if f["asset_id"] == films["id"]]
    assert (flag["via"], flag["opt_out_id"]) == ("frame", opt_out["id"])
    assert flag["reference_time_s"] == pytest.approx(6.0, abs=0.5)
    denied = _evaluate(admin, world["ann_src"]["id"], "commercial_training", "2026-04-01")
    assert films["id"] in {r["asset_id"] for r in denied["reasons"] if r["code"] == "opted_out"}
    # Clearance evaluates the training sources as evaluation does: the clip blocks there too.
    model = _model(admin, "clips", "2026-06-30", world["ann_src"]["id"])
    shot = admin.ok("post", "/v1/generations", 201, json={
        "model_id": model["id"], "production": "Wheels", "title": "Shot 1", "intended_use": "commercial_release"})
    report = admin.ok("get", "/v1/reports/clearance", params={"generation_id": shot["id"], "on": "2026-04-01"})
    assert report["verdict"] == "blocked"
    assert (films["id"], "training") in {(b["asset_id"], b["basis"]) for b in report["blockers"]
                                         if b["code"] == "opted_out"}
