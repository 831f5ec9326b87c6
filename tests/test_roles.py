
from tests import media
from tests.conftest import Api
from tests.factories import holder, source
from tests.worlds import roles_world, seeded

world = seeded(roles_world)


def test_missing_wrong_and_revoked_keys_get_401(admin: Api, client) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"Authorization": "Bearer nonsense"},
                    {"X-API-Key": "rk_key_01m890eekk58bsf8b5nna9pjhd_wrongsecret"},
                    {"Authorization": admin.headers["Authorization"] + "x"}):
        response = client.get("/v1/holders", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == "application/problem+json"
    curator = admin.make_key("curator")
    key_id = curator.key[3:33]
    admin.ok("post", f"/v1/keys/{key_id}/revoke")
    assert curator.get("/v1/holders").status_code == 401
    assert client.get("/v1/holders", headers={"X-API-Key": admin.key}).status_code == 200


def test_curator_registers_but_does_not_manage_keys(curator: Api, world: dict) -> None:
    made = holder(curator, "New holder")
    source(curator, [made["id"]], world["licence"]["id"], name="Curated")
    assert curator.post("/v1/keys", json={"name": "x", "role": "admin"}).status_code == 403
    assert curator.get("/v1/keys").status_code == 403
    assert curator.get("/v1/log/entries").status_code == 403


def test_auditor_reads_everything_and_changes_nothing(auditor: Api, world: dict) -> None:
    assert len(auditor.ok("get", "/v1/assets")["items"]) == 2
    assert auditor.ok("get", "/v1/log/entries")["items"]
    assert auditor.post("/v1/holders", json={"name": "x", "kind": "person"}).status_code == 403
    assert auditor.patch(f"/v1/holders/{world['ann']['id']}", json={"contact": "x"}).status_code == 403
    assert auditor.post(f"/v1/sources/{world['ann_src']['id']}/retire",
                        json={"reason": "nope"}).status_code == 403
    with media.image("coins.png").open("rb") as fh:
        assert auditor.post(f"/v1/sources/{world['ann_src']['id']}/assets",
                            files={"file": ("c.png", fh)}).status_code == 403


def test_rights_holder_sees_and_acts_on_its_own_works_only(admin: Api, world: dict) -> None:
    ann = admin.make_key("rights_holder", holder_id=world["ann"]["id"])
    assets = ann.ok("get", "/v1/assets")["items"]
    assert [a["id"] for a in assets] == [world["ann_asset"]["id"]]
    assert ann.get(f"/v1/assets/{world['bob_asset']['id']}").status_code == 404
    assert ann.get(f"/v1/assets/{world['bob_asset']['id']}/content").status_code == 404
    assert ann.get(f"/v1/assets/{world['ann_asset']['id']}/content").status_code == 200
    assert [s["id"] for s in ann.ok("get", "/v1/sources")["items"]] == [world["ann_src"]["id"]]
    assert ann.get(f"/v1/sources/{world['bob_src']['id']}").status_code == 404
    assert [h["id"] for h in ann.ok("get", "/v1/holders")["items"]] == [world["ann"]["id"]]
    assert ann.get(f"/v1/holders/{world['bob']['id']}").status_code == 404
    # Its own record it may keep current; nobody else's.
    assert ann.ok("patch", f"/v1/holders/{world['ann']['id']}", json={"contact": "ann@example.org"})
    assert ann.patch(f"/v1/holders/{world['bob']['id']}", json={"contact": "x"}).status_code == 404
    assert ann.post("/v1/holders", json={"name": "x", "kind": "person"}).status_code == 403
    assert ann.post(f"/v1/assets/{world['ann_asset']['id']}/retire",
                    json={"reason": "mine"}).status_code == 403
    evaluation = ann.post("/v1/evaluations", json={"source_ids": [world["bob_src"]["id"]],
                                                   "use": "commercial_training"})
    assert evaluation.status_code == 404
    assert ann.get("/v1/log/entries").status_code == 403


def test_rights_holder_keys_must_name_a_live_holder(admin: Api, world: dict) -> None:
    assert admin.post("/v1/keys", json={"name": "x", "role": "rights_holder"}).status_code == 422
    assert admin.post("/v1/keys", json={"name": "x", "role": "rights_holder",
                                        "holder_id": "hld_missing"}).status_code == 404
    assert admin.post("/v1/keys", json={"name": "x", "role": "curator",
                                        "holder_id": world["ann"]["id"]}).status_code == 422


def test_every_change_is_attributed_to_its_key(admin: Api, auditor: Api, world: dict) -> None:
    curator = admin.make_key("curator")
    made = holder(curator, "Attributed")
    entries = auditor.ok("get", "/v1/log/entries", params={"entity_id": made["id"]})["items"]
    assert [(e["action"], e["actor"]) for e in entries] == [("rights_holder.created", curator.key[3:33])]
    assert entries[0]["data"]["name"] == "Attributed"
    listing = auditor.ok("get", "/v1/log/entries", params={"limit": 200})
    assert all("secret" not in str(e["data"]) for e in listing["items"])
    indexes = [e["idx"] for e in listing["items"]]
    assert indexes == list(range(len(indexes)))
