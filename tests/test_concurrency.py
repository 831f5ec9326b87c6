"""The same state change sent many times at once, on both databases: exactly one request
wins, the others are refused with 409 (or 412 for a stale If-Match), and the audit log
holds one entry for the change."""

import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from registry.auth.actor import SYSTEM_ACTOR
from registry.core.blobstore import LocalBlobStore
from registry.core.db import standalone_session
from registry.signingkeys.models import SigningKeyRecord
from registry.signingkeys.service import ensure_active_key
from tests import media
from tests.conftest import Api
from tests.factories import at_once, builtin_licence, holder, source, upload

ATTEMPTS = 8


def _statuses(responses: list) -> Counter:
    for r in responses:
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json"
    return Counter(r.status_code for r in responses)


def _actions(api: Api, entity_id: str) -> list[str]:
    entries = api.ok("get", "/v1/log/entries", params={"entity_id": entity_id, "limit": 100})
    return [e["action"] for e in entries["items"]]


def _patch(api: Api, path: str, if_match: str, body: dict) -> Any:
    return api.client.patch(path, headers={**api.headers, "If-Match": if_match}, json=body)


def _world(admin: Api) -> dict[str, Any]:
    ann = holder(admin, "Ann Films")
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    src = source(admin, [ann["id"]], cc_by, name="Ann stills")
    asset = upload(admin, src["id"], media.image("coffee.png"))
    admin.ok("post", f"/v1/sources/{src['id']}/manifests", 201)
    models = [admin.ok("post", "/v1/models", 201, json={
        "name": "Dreamreel", "version": str(n), "owner": "Studio X", "trained_until": "2026-10-01",
        "training_sources": [{"source_id": src["id"], "weight": "1"}]}) for n in range(3)]
    return {"ann": ann, "source": src, "asset": asset, "models": models,
            "ann_key": admin.make_key("rights_holder", ann["id"])}


def _claim(world: dict, model: dict) -> dict:
    return world["ann_key"].ok("post", "/v1/claims", 201, json={
        "kind": "compensation", "model_id": model["id"],
        "statement": "My stills were used to train this model."})


def test_claim_transitions_have_one_winner(admin: Api, curator: Api) -> None:
    world = _world(admin)
    claim = _claim(world, world["models"][0])
    path = f"/v1/claims/{claim['id']}"
    same = at_once([lambda: curator.post(f"{path}/transitions", json={"to": "under_review"})] * ATTEMPTS)
    assert _statuses(same) == {200: 1, 409: ATTEMPTS - 1}
    events = admin.ok("get", path)["events"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "filed"), ("filed", "under_review")]
    assert _actions(admin, claim["id"]) == ["claim.filed", "claim.under_review"]

    # Opposite verdicts at once: one is applied, and the claim says which.
    verdicts = ["accepted", "rejected"] * (ATTEMPTS // 2)
    responses = at_once([lambda to=to: curator.post(f"{path}/transitions", json={"to": to})
                          for to in verdicts])
    assert _statuses(responses) == {200: 1, 409: ATTEMPTS - 1}
    winner = next(r.json()["status"] for r in responses if r.status_code == 200)
    assert admin.ok("get", path)["status"] == winner
    assert _actions(admin, claim["id"]) == ["claim.filed", "claim.under_review", f"claim.{winner}"]


def test_simultaneous_claims_against_one_target_file_one(admin: Api) -> None:
    world = _world(admin)
    ann, model = world["ann_key"], world["models"][0]
    responses = at_once([lambda: ann.post("/v1/claims", json={
        "kind": "compensation", "model_id": model["id"],
        "statement": "My stills were used to train this model."})] * ATTEMPTS)
    assert _statuses(responses) == {201: 1, 409: ATTEMPTS - 1}
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    assert all(winner in r.json()["detail"] for r in responses if r.status_code == 409)
    listed = admin.ok("get", "/v1/claims", params={"model_id": model["id"]})["items"]
    assert [c["id"] for c in listed] == [winner]


def test_comments_at_the_same_time_as_a_transition_all_land(admin: Api, curator: Api) -> None:
    world = _world(admin)
    claim = _claim(world, world["models"][1])
    path = f"/v1/claims/{claim['id']}"
    ann = world["ann_key"]
    calls = [lambda n=n: ann.post(f"{path}/comments", json={"comment": f"note {n}"})
             for n in range(ATTEMPTS - 1)]
    calls.append(lambda: curator.post(f"{path}/transitions", json={"to": "under_review"}))
    responses = at_once(calls)
    assert _statuses(responses) == {201: ATTEMPTS - 1, 200: 1}, [r.text for r in responses]
    events = admin.ok("get", path)["events"]
    assert sorted(e["comment"] for e in events if e["comment"]) == [f"note {n}" for n in range(ATTEMPTS - 1)]
    assert Counter(_actions(admin, claim["id"])) == {
        "claim.filed": 1, "claim.commented": ATTEMPTS - 1, "claim.under_review": 1}


def test_retiring_any_record_at_once_has_one_winner(admin: Api, cli) -> None:  # type: ignore[no-untyped-def]
    world = _world(admin)
    custom = admin.ok("post", "/v1/licences", 201, json={
        "identifier": "LicenseRef-race", "name": "Race terms", "commercial_use": True,
        "derivatives": True, "attribution_required": False, "ai_training": "allowed"})
    bob = holder(admin, "Bob Pictures")
    opt_out = world["ann_key"].ok("post", "/v1/opt-outs", 201, json={
        "sha256": world["asset"]["sha256"], "effective_from": "2026-01-01T00:00:00Z"})
    records = [("asset", f"/v1/assets/{world['asset']['id']}"),
               ("ai_model", f"/v1/models/{world['models'][2]['id']}"),
               ("source", f"/v1/sources/{world['source']['id']}"),
               ("licence", f"/v1/licences/{custom['id']}"),
               ("rights_holder", f"/v1/holders/{bob['id']}"),
               ("opt_out", f"/v1/opt-outs/{opt_out['id']}")]
    for entity, path in records:
        responses = at_once([lambda path=path: admin.post(f"{path}/retire", json={"reason": "race test"})]
                             * ATTEMPTS)
        assert _statuses(responses) == {200: 1, 409: ATTEMPTS - 1}, entity
        record_id = path.rsplit("/", 1)[1]
        assert [a for a in _actions(admin, record_id) if a.endswith(".retired")] == [
            f"{entity}.retired"], entity
    result = cli("verify-log")
    assert result.exit_code == 0, result.output


def test_key_revoke_and_signing_key_rotation_have_one_winner(admin: Api, cli) -> None:  # type: ignore[no-untyped-def]
    victim = admin.ok("post", "/v1/keys", 201, json={"name": "temp", "role": "curator"})
    responses = at_once([lambda: admin.post(f"/v1/keys/{victim['id']}/revoke")] * ATTEMPTS)
    assert _statuses(responses) == {200: 1, 409: ATTEMPTS - 1}
    assert _actions(admin, victim["id"]) == ["key.created", "key.revoked"]

    before = admin.client.get("/.well-known/registry-keys.json").json()
    # A rotation retires the key active when it runs: requests that read the same active
    # key have one winner, while one that runs after a winner committed rotates the new key
    # (so under load more than one may legitimately succeed, each over a different key).
    rotations = at_once([lambda: admin.post("/v1/signing-keys/rotate")] * 4)
    statuses = _statuses(rotations)
    assert statuses[200] >= 1 and statuses[200] + statuses[409] == 4
    after = admin.client.get("/.well-known/registry-keys.json").json()["keys"]
    assert len(after) == len(before["keys"]) + statuses[200]
    assert sum(k["not_after"] is None for k in after) == 1
    entries = admin.ok("get", "/v1/log/entries", params={"limit": 100})["items"]
    retired = [e["entity_id"] for e in entries if e["action"] == "signing_key.retired"]
    assert len(retired) == len(set(retired)) == statuses[200]
    result = cli("verify-log")
    assert result.exit_code == 0, result.output


def test_patch_answers_an_etag_and_honours_if_match(admin: Api) -> None:
    ann = holder(admin, "Ann Films")
    path = f"/v1/holders/{ann['id']}"
    first = admin.get(path)
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"')

    responses = at_once([lambda n=n: _patch(admin, path, tag, {"name": f"Ann Films {n}"})
                          for n in range(ATTEMPTS)])
    statuses = _statuses(responses)
    assert statuses == {200: 1, 412: ATTEMPTS - 1}
    winner = next(r for r in responses if r.status_code == 200)
    assert winner.headers["etag"] != tag
    current = admin.get(path)
    assert current.json()["name"] == winner.json()["name"]
    assert current.headers["etag"] == winner.headers["etag"]
    assert _actions(admin, ann["id"]).count("rights_holder.updated") == 1

    # Sequentially: a stale tag is refused with the current one named; `*` and the current
    # tag are accepted; a malformed header is a 400; a weak tag never matches.
    stale = _patch(admin, path, tag, {"name": "Late"})
    assert stale.status_code == 412 and stale.json()["etag"] == current.headers["etag"]
    assert stale.json()["type"].endswith("/precondition-failed")
    assert _patch(admin, path, "v1", {"name": "X"}).status_code == 400
    assert _patch(admin, path, f"W/{current.headers['etag']}", {"name": "X"}).status_code == 412
    fresh = _patch(admin, path, f'"nope", {current.headers["etag"]}', {"name": "Ann Films"})
    assert fresh.status_code == 200, fresh.text
    assert _patch(admin, path, "*", {"name": "Ann"}).status_code == 200
    assert admin.get(path).json()["name"] == "Ann"


def test_simultaneous_creations_of_one_named_record_make_one(admin: Api) -> None:
    """A source's and a model's name and version are unique keys: the service's own check
    is read-then-insert, and under a race the database decides (409, not a duplicate)."""
    ann = holder(admin, "Ann Films")
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    body = {"name": "Ann stills", "version": "1", "media_types": ["image/png"],
            "holder_ids": [ann["id"]], "licence_id": cc_by, "acquisition_method": "open_licence"}
    responses = at_once([lambda: admin.post("/v1/sources", json=body)] * ATTEMPTS)
    assert _statuses(responses) == {201: 1, 409: ATTEMPTS - 1}
    assert all(r.headers["content-type"] == "application/problem+json"
               for r in responses if r.status_code == 409)
    src = next(r.json() for r in responses if r.status_code == 201)
    upload(admin, src["id"], media.image("coffee.png"))
    admin.ok("post", f"/v1/sources/{src['id']}/manifests", 201)
    model = {"name": "Dreamreel", "version": "1", "owner": "Studio X", "trained_until": "2026-10-01",
             "training_sources": [{"source_id": src["id"], "weight": "1"}]}
    responses = at_once([lambda: admin.post("/v1/models", json=model)] * ATTEMPTS)
    assert _statuses(responses) == {201: 1, 409: ATTEMPTS - 1}
    assert len(admin.ok("get", "/v1/models")["items"]) == 1

def test_processes_creating_the_first_signing_key_at_once_make_one(settings) -> None:  # type: ignore[no-untyped-def]
    """Replicas each running ``registry db upgrade`` on a registry whose keys have all
    ended: the database lets one new key in, and the others find it made."""
    with standalone_session(settings.effective_database_url) as session:
        session.execute(sa.update(SigningKeyRecord).values(not_after=SigningKeyRecord.not_before))
        session.commit()

    def ensure() -> bool:
        with standalone_session(settings.effective_database_url) as session:
            return ensure_active_key(session, settings, SYSTEM_ACTOR)

    made = at_once([ensure] * 4)
    assert sorted(made) == [False, False, False, True]
    with standalone_session(settings.effective_database_url) as session:
        keys = session.exec(select(SigningKeyRecord)).all()
        assert sum(k.not_after is None for k in keys) == 1


def test_a_discarded_blob_stays_for_an_upload_of_the_same_content_under_way(settings) -> None:  # type: ignore[no-untyped-def]
    """A look-up's file, or a failed registration's, is discarded once no record cites it;
    an upload of the same content that found it stored and has not committed its record
    yet keeps it, whichever of the two comes first."""
    blobs = LocalBlobStore(settings.effective_blob_dir)
    content = media.image("coffee.png").read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()

    @contextmanager
    def uploading() -> Iterator[bool]:  # an upload of the content, until its record is committed
        with blobs.staging_file() as staged, blobs.hold(sha256):
            staged.write_bytes(content)
            yield blobs.put(staged, sha256)

    with uploading() as stored:  # the look-up's own upload
        assert stored
    with uploading() as stored:  # found it stored, its record not committed yet
        assert not stored
        assert not blobs.discard_unless(sha256, lambda: False)
    assert blobs.exists(sha256)

    def upload_meanwhile() -> bool:  # looks for the blob only once it is set aside
        with uploading() as stored:
            assert stored  # so it stores its own copy
        return False  # and commits its record after the discard has asked
    assert blobs.discard_unless(sha256, upload_meanwhile)  # the look-up's copy went ...
    with blobs.open(sha256) as kept:
        assert kept.read() == content  # ... the upload's stays

    assert blobs.discard_unless(sha256, lambda: True) is False  # a committed record cites it
    assert blobs.discard_unless(sha256, lambda: False) and not blobs.exists(sha256)
    # a failed registration removes the file it stored, its own hold notwithstanding
    with blobs.staging_file() as staged, blobs.hold(sha256) as mine:
        staged.write_bytes(content)
        assert blobs.put(staged, sha256)
        assert blobs.discard_unless(sha256, lambda: False, mine=mine) and not blobs.exists(sha256)
    for left in (".discarding", ".holds"):  # nothing set aside, every hold let go
        assert not list((settings.effective_blob_dir / left).iterdir())

    # a process killed while it discarded a blob leaves it set aside: a restart puts it back
    with uploading():
        pass
    aside = settings.effective_blob_dir / ".discarding" / f"{sha256}.killed"
    blobs.path(sha256).rename(aside)
    assert blobs.remove_orphans(min_age_s=0) == 1
    with blobs.open(sha256) as kept:
        assert kept.read() == content
