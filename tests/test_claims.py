"""Claims through the HTTP API on real media: a copy of a registered image in a generated
frame, a model trained on the sources; evidence checked with the offline verifiers."""

import base64
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry.auditlog.client import check_entry, open_checkpoint
from registry.manifests.verify import load_keys, verify_asset_proof, verify_manifest
from tests.conftest import Api
from tests.worlds import claims_world, seeded

world = seeded(claims_world)


def _copyright(api: Api, world: dict, status: int = 201, **extra: object) -> dict:
    return api.ok("post", "/v1/claims", status, json={
        "kind": "copyright", "generation_id": world["generation"]["id"],
        "statement": "Shot 12 reproduces my astronaut portrait.", **extra})


def _compensation(api: Api, model_id: str, status: int = 201, **extra: object) -> dict:
    return api.ok("post", "/v1/claims", status, json={
        "kind": "compensation", "model_id": model_id,
        "statement": "My stills were used to train this model.", **extra})


def _keys(api: Api) -> list:
    return load_keys(api.client.get("/.well-known/registry-keys.json").text)


def _verify_log(proof: dict, evidence: dict, keys: list) -> dict:
    """The log client's offline check; returns the logged entry."""
    return check_entry({**proof, "checkpoint": evidence["checkpoint"]}, keys)


def _verified_manifest(api: Api, manifest_id: str, keys: list):  # type: ignore[no-untyped-def]
    return verify_manifest(api.get(f"/v1/manifests/{manifest_id}/envelope").content, keys)


def test_copyright_claim_evidence_verifies_offline(world: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ann = world["ann_key"]
    claim = _copyright(ann, world)
    assert (claim["kind"], claim["status"], claim["holder_id"]) == (
        "copyright", "filed", world["ann"]["id"])
    assert claim["allowed_transitions"] == ["under_review"]
    assert [(e["from_status"], e["to_status"]) for e in claim["events"]] == [(None, "filed")]
    evidence = claim["evidence"]
    keys = _keys(ann)
    checkpoint = open_checkpoint(evidence["checkpoint"], keys)
    assert checkpoint.size == evidence["tree_size"]

    # The match on Ann's work, with the check that found it.
    [match] = evidence["matches"]
    assert match["asset_id"] == world["astronaut"]["id"]
    assert match["check_id"] == world["check"]["id"] and match["verdict"] == "copy"
    assert match["match"]["licence"] == "CC-BY-4.0" and match["match"]["score"] >= 0.5
    [check] = evidence["checks"]
    logged = _verify_log(check["log"], evidence, keys)
    assert (logged["entity_type"], logged["entity_id"]) == ("check", world["check"]["id"])
    assert logged["data"]["items"][0]["matches"][0]["asset_id"] == world["astronaut"]["id"]
    logged = _verify_log(evidence["generation_log"]["log"], evidence, keys)
    assert logged["entity_id"] == world["generation"]["id"]

    # The registry manifest listing the work: logged by its digest, asset proven in it.
    [manifest] = evidence["manifests"]
    assert manifest["manifest_id"] == match["manifest_id"] == world["ann_manifest"]["id"]
    logged = _verify_log(manifest["log"], evidence, keys)
    assert logged["data"]["payload_sha256"] == manifest["payload_sha256"]
    verified = _verified_manifest(ann, manifest["manifest_id"], keys)
    assert verified.asset_root.hex() == manifest["asset_root"]
    entry = verify_asset_proof(verified, match["asset_proof"])
    assert entry["sha256"] == world["astronaut"]["sha256"]
    # ... and with the CLI a court would run.
    envelope = tmp_path / "manifest.dsse.json"
    envelope.write_bytes(ann.get(manifest["envelope_url"]).content)
    (tmp_path / "keys.json").write_bytes(ann.client.get("/.well-known/registry-keys.json").content)
    (tmp_path / "proof.json").write_text(json.dumps(match["asset_proof"]))
    result = cli("verify", str(envelope), "--key", str(tmp_path / "keys.json"),
                 "--asset-proof", str(tmp_path / "proof.json"))
    assert result.exit_code == 0, result.output
    assert f"asset {world['astronaut']['id']}" in result.output

    # Tampered evidence fails the offline checks.
    forged = dict(check["log"], payload=base64.b64encode(b"{}").decode())
    with pytest.raises(ValueError):
        _verify_log(forged, evidence, keys)
    with pytest.raises(ValueError):
        verify_asset_proof(verified, {**match["asset_proof"],
                                      "entry": {**entry, "sha256": world["coffee"]["sha256"]}})
    # Stored as filed: reading it back gives the same evidence.
    assert ann.ok("get", f"/v1/claims/{claim['id']}")["evidence"] == evidence


def test_compensation_claim_evidence_verifies_offline(admin: Api, world: dict) -> None:
    # An admin files on behalf of Bob; Bob's works are chelsea (his source) and camera
    # (his own asset in Ann's source): both training sources cite him.
    claim = _compensation(admin, world["model"]["id"], holder_id=world["bob"]["id"])
    assert (claim["holder_id"], claim["model_id"], claim["generation_id"]) == (
        world["bob"]["id"], world["model"]["id"], None)
    evidence = claim["evidence"]
    keys = _keys(admin)
    by_source = {s["source_id"]: s for s in evidence["training_sources"]}
    assert by_source[world["bob_src"]["id"]]["asset_ids"] == [world["chelsea"]["id"]]
    assert by_source[world["ann_src"]["id"]]["asset_ids"] == [world["camera"]["id"]]
    assert by_source[world["bob_src"]["id"]]["weight"] == "0.300000"
    assert {m["manifest_id"] for m in evidence["manifests"]} == {
        world["ann_manifest"]["id"], world["bob_manifest"]["id"]}
    for cited in evidence["training_sources"]:
        assert cited["manifest_sha256"] == next(
            m["payload_sha256"] for m in evidence["manifests"] if m["manifest_id"] == cited["manifest_id"])
        assert not cited["truncated"] and cited["holder_asset_count"] == 1
        verified = _verified_manifest(admin, cited["manifest_id"], keys)
        [proof] = cited["asset_proofs"]
        assert verify_asset_proof(verified, proof)["asset_id"] in cited["asset_ids"]
    for manifest in evidence["manifests"]:
        assert _verify_log(manifest["log"], evidence, keys)["entity_id"] == manifest["manifest_id"]
    # The model's own log entry pins the training mix the claim relies on.
    logged = _verify_log(evidence["model_log"]["log"], evidence, keys)
    assert {(s["source_id"], s["manifest_id"]) for s in logged["data"]["training_sources"]} == {
        (s["source_id"], s["manifest_id"]) for s in evidence["training_sources"]}

    # Ann's works (astronaut, coffee) are in the Ann source only.
    ann_claim = _compensation(world["ann_key"], world["model"]["id"])
    [cited] = ann_claim["evidence"]["training_sources"]
    assert sorted(cited["asset_ids"]) == sorted([world["astronaut"]["id"], world["coffee"]["id"]])


def test_lifecycle_events_and_audit_log(admin: Api, curator: Api, auditor: Api, world: dict,
                                        cli, settings) -> None:  # type: ignore[no-untyped-def]
    ann = world["ann_key"]
    claim = _copyright(ann, world)
    path = f"/v1/claims/{claim['id']}"
    ann.ok("post", f"{path}/comments", 201, json={"comment": "Frame 1 is identical."})
    step = curator.ok("post", f"{path}/transitions", json={"to": "under_review"})
    assert step["status"] == "under_review" and step["allowed_transitions"] == ["accepted", "rejected"]
    note = curator.ok("post", f"{path}/comments", 201, json={"comment": "Asked the studio."})
    assert (note["from_status"], note["to_status"]) == ("under_review", "under_review")
    admin.ok("post", f"{path}/transitions", json={"to": "accepted", "comment": "Copy confirmed."})
    # Illegal steps name the allowed ones.
    illegal = admin.post(f"{path}/transitions", json={"to": "rejected"})
    assert illegal.status_code == 409 and illegal.json()["allowed"] == ["settled"]
    assert illegal.json()["type"].endswith("/problems/illegal-claim-transition")
    assert "allowed: settled" in illegal.json()["detail"]
    done = curator.ok("post", f"{path}/transitions", json={"to": "settled", "comment": "Paid."})
    assert done["status"] == "settled" and done["allowed_transitions"] == []
    final = admin.post(f"{path}/transitions", json={"to": "under_review"})
    assert final.status_code == 409 and final.json()["allowed"] == []
    # Comments stay possible after settlement (e.g. a payment reference).
    admin.ok("post", f"{path}/comments", 201, json={"comment": "Ref 2026-118."})

    events = auditor.ok("get", path)["events"]
    steps = [(e["from_status"], e["to_status"], e["comment"]) for e in events]
    assert steps == [
        (None, "filed", None), ("filed", "filed", "Frame 1 is identical."),
        ("filed", "under_review", None), ("under_review", "under_review", "Asked the studio."),
        ("under_review", "accepted", "Copy confirmed."), ("accepted", "settled", "Paid."),
        ("settled", "settled", "Ref 2026-118.")]
    assert events[0]["actor"] == ann.key[3:33] and events[2]["actor"] == curator.key[3:33]

    # Each event is one audit-log entry, whose data holds the claim and its history so far.
    log = auditor.ok("get", "/v1/log/entries", params={"entity_id": claim["id"]})["items"]
    assert [e["action"] for e in log] == [
        "claim.filed", "claim.commented", "claim.under_review", "claim.commented",
        "claim.accepted", "claim.settled", "claim.commented"]
    assert all(e["entity_type"] == "claim" for e in log)
    assert [len(e["data"]["events"]) for e in log] == list(range(1, 8))
    assert [e["data"]["events"][-1]["id"] for e in log] == [e["id"] for e in events]
    assert log[-1]["data"]["status"] == "settled"
    assert log[0]["data"]["evidence"] == claim["evidence"]

    # Under review → rejected, on a second claim.
    other = _compensation(ann, world["model"]["id"])
    curator.ok("post", f"/v1/claims/{other['id']}/transitions", json={"to": "under_review"})
    skip = curator.post(f"/v1/claims/{other['id']}/transitions", json={"to": "settled"})
    assert skip.status_code == 409 and skip.json()["allowed"] == ["accepted", "rejected"]
    rejected = curator.ok("post", f"/v1/claims/{other['id']}/transitions",
                          json={"to": "rejected", "comment": "Outside the training period."})
    assert rejected["status"] == "rejected"
    filed_again = admin.post(f"/v1/claims/{other['id']}/transitions", json={"to": "filed"})
    assert filed_again.status_code == 409
    # A rejected claim no longer blocks a new one against the same model.
    _compensation(ann, world["model"]["id"])

    result = cli("verify-log")
    assert result.exit_code == 0, result.output
    # The events are replayed with their claim: an edited comment is caught.
    engine = sa.create_engine(settings.effective_database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE claim_event SET comment = 'Not paid.' WHERE comment = 'Paid.'"))
    engine.dispose()
    result = cli("verify-log")
    assert result.exit_code == 1 and f"claim {claim['id']}" in result.output, result.output


def test_roles_and_scope_on_every_endpoint(admin: Api, curator: Api, auditor: Api, world: dict,
                                           client) -> None:  # type: ignore[no-untyped-def]
    ann, bob = world["ann_key"], world["bob_key"]
    mine = _copyright(ann, world)
    bobs = _compensation(bob, world["model"]["id"])
    path = f"/v1/claims/{mine['id']}"

    # 401 without a key, everywhere.
    for method, url, body in (("get", "/v1/claims", None), ("get", path, None),
                              ("post", "/v1/claims", {"kind": "compensation", "statement": "x",
                                                      "model_id": world["model"]["id"]}),
                              ("post", f"{path}/transitions", {"to": "under_review"}),
                              ("post", f"{path}/comments", {"comment": "x"})):
        response = client.get(url) if method == "get" else client.post(url, json=body)
        assert response.status_code == 401, url

    # Filing: rights holders for themselves, admins on behalf; curators and auditors not.
    assert _compensation(curator, world["model"]["id"], 403, holder_id=world["ann"]["id"])
    assert _compensation(auditor, world["model"]["id"], 403, holder_id=world["ann"]["id"])
    assert _compensation(bob, world["model"]["id"], 403, holder_id=world["ann"]["id"])

    # Reading: a holder sees its own claims only; other holders' answer as unknown.
    assert [c["id"] for c in ann.ok("get", "/v1/claims")["items"]] == [mine["id"]]
    assert [c["id"] for c in bob.ok("get", "/v1/claims")["items"]] == [bobs["id"]]
    assert ann.ok("get", "/v1/claims", params={"holder_id": world["bob"]["id"]})["items"] == []
    assert bob.get(path).status_code == 404
    assert bob.post(f"{path}/comments", json={"comment": "mine?"}).status_code == 404
    assert bob.post(f"{path}/transitions", json={"to": "under_review"}).status_code == 404
    for overseer in (admin, curator, auditor):
        listed = {c["id"] for c in overseer.ok("get", "/v1/claims")["items"]}
        assert listed == {mine["id"], bobs["id"]}
        assert overseer.ok("get", path)["id"] == mine["id"]

    # Moving claims: admins and curators; the claimant and auditors may not.
    assert ann.post(f"{path}/transitions", json={"to": "under_review"}).status_code == 403
    assert auditor.post(f"{path}/transitions", json={"to": "under_review"}).status_code == 403
    # Commenting: the parties, not auditors.
    assert auditor.post(f"{path}/comments", json={"comment": "noted"}).status_code == 403
    for party in (ann, admin, curator):
        party.ok("post", f"{path}/comments", 201, json={"comment": "noted"})
    assert ann.ok("get", path)["status"] == "filed"
    # Audit-log reads stay with admins and auditors.
    assert ann.get("/v1/log/entries", params={"entity_id": mine["id"]}).status_code == 403


def test_bad_input(admin: Api, world: dict) -> None:
    ann, bob = world["ann_key"], world["bob_key"]
    gen, model = world["generation"]["id"], world["model"]["id"]
    # Wrong kind/target combinations and malformed bodies.
    for body in ({"kind": "copyright", "model_id": model, "statement": "x"},
                 {"kind": "compensation", "generation_id": gen, "statement": "x"},
                 {"kind": "copyright", "generation_id": gen, "model_id": model, "statement": "x"},
                 {"kind": "copyright", "generation_id": gen},
                 {"kind": "copyright", "generation_id": gen, "statement": ""},
                 {"kind": "trademark", "generation_id": gen, "statement": "x"},
                 {"kind": "copyright", "generation_id": gen, "statement": "x", "amount": 5},
                 {"kind": "copyright", "generation_id": "g" * 41, "statement": "x"}):
        response = ann.post("/v1/claims", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    # Unknown ids.
    _copyright(ann, world, 404, generation_id="gen_unknown")
    _compensation(ann, "mdl_unknown", 404)
    _compensation(admin, model, 404, holder_id="hld_unknown")
    _compensation(admin, model, 422)  # an admin must say for whom
    for url in ("/v1/claims/clm_unknown", ):
        assert admin.get(url).status_code == 404
        assert admin.post(f"{url}/transitions", json={"to": "under_review"}).status_code == 404
        assert admin.post(f"{url}/comments", json={"comment": "x"}).status_code == 404
    # Nothing to claim: Bob's works were not in the generated frame; Ann's were not in the
    # training mix of the Bob-only model; a generation without checks has no matches.
    response = _copyright(bob, world, 409)
    assert "nothing to claim" in response["detail"]
    response = _compensation(ann, world["bob_only_model"]["id"], 409)
    assert "nothing to claim" in response["detail"]
    response = _copyright(ann, world, 409, generation_id=world["unchecked"]["id"])
    assert "no linked check" in response["detail"]
    # One open claim per holder and target.
    claim = _copyright(ann, world)
    response = _copyright(ann, world, 409)
    assert claim["id"] in response["detail"]
    # Transition and comment bodies.
    path = f"/v1/claims/{claim['id']}"
    for body in ({"to": "withdrawn"}, {}, {"to": "under_review", "extra": 1},
                 {"to": "under_review", "comment": ""}):
        assert admin.post(f"{path}/transitions", json=body).status_code == 422, body
    assert admin.post(f"{path}/comments", json={"comment": ""}).status_code == 422
    assert admin.post(f"{path}/comments", json={"comment": "x" * 10_001}).status_code == 422
    # Retired targets take no new claims.
    admin.ok("post", f"/v1/models/{model}/retire", json={"reason": "withdrawn from service"})
    _compensation(ann, model, 409)


def test_filters_and_pagination(admin: Api, curator: Api, world: dict) -> None:
    ann, bob = world["ann_key"], world["bob_key"]
    copy = _copyright(ann, world)
    ann_comp = _compensation(ann, world["model"]["id"])
    bob_comp = _compensation(bob, world["model"]["id"])
    curator.ok("post", f"/v1/claims/{ann_comp['id']}/transitions", json={"to": "under_review"})

    def ids(**params: str) -> list[str]:
        return [c["id"] for c in admin.ok("get", "/v1/claims", params=params)["items"]]

    assert ids() == [copy["id"], ann_comp["id"], bob_comp["id"]]
    assert ids(kind="copyright") == [copy["id"]]
    assert ids(kind="compensation", holder_id=world["bob"]["id"]) == [bob_comp["id"]]
    assert ids(status="under_review") == [ann_comp["id"]]
    assert ids(generation_id=world["generation"]["id"]) == [copy["id"]]
    assert ids(model_id=world["model"]["id"]) == [ann_comp["id"], bob_comp["id"]]
    assert ids(model_id=world["bob_only_model"]["id"]) == []
    assert admin.get("/v1/claims", params={"status": "open"}).status_code == 422
    assert "evidence" not in admin.ok("get", "/v1/claims")["items"][0]

    seen, cursor = [], None
    while True:
        page = admin.ok("get", "/v1/claims", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids()
    assert admin.get("/v1/claims", params={"cursor": "!!"}).status_code == 422
