from tests.conftest import Api
from tests.factories import holder


def test_create_read_update_retire_holder(admin: Api) -> None:
    created = holder(admin, "Blender Foundation", contact="rights@blender.org", identifiers=[
        {"scheme": "isni", "value": "0000 0001 2103 2683"},
        {"scheme": "orcid", "value": "https://orcid.org/0000-0002-1825-0097"},
        {"scheme": "url", "value": "https://www.blender.org"},
    ])
    assert created["id"].startswith("hld_")
    assert created["identifiers"][0] == {"scheme": "isni", "value": "0000000121032683"}
    assert created["identifiers"][1]["value"] == "0000-0002-1825-0097"

    fetched = admin.ok("get", f"/v1/holders/{created['id']}")
    assert fetched == created

    updated = admin.ok("patch", f"/v1/holders/{created['id']}", json={"contact": "legal@blender.org"})
    assert updated["contact"] == "legal@blender.org"
    assert updated["updated_at"] >= created["updated_at"]

    retired = admin.ok("post", f"/v1/holders/{created['id']}/retire",
                       json={"reason": "merged into another record"})
    assert retired["retired_at"] and retired["retired_reason"] == "merged into another record"
    # Retired records stay readable but are frozen.
    assert admin.ok("get", f"/v1/holders/{created['id']}")["retired_at"]
    again = admin.patch(f"/v1/holders/{created['id']}", json={"contact": "x"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


def test_identifier_and_key_validation(admin: Api) -> None:
    bad_isni = admin.post("/v1/holders", json={"name": "X", "kind": "person",
                                               "identifiers": [{"scheme": "isni", "value": "0000000121032684"}]})
    assert bad_isni.status_code == 422
    assert "ISNI" in bad_isni.json()["detail"]
    bad_key = admin.post("/v1/holders", json={"name": "X", "kind": "person",
                                              "public_keys": [{"ed25519": "bm90IGEga2V5IGF0IGFsbCBub3QgYSBrZXk="}]})
    assert bad_key.status_code == 422
    good = holder(admin, "Key holder", public_keys=[
        {"label": "main", "ed25519": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}])
    assert good["public_keys"][0]["ed25519"] == "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def test_list_filters_and_cursor_pagination(admin: Api) -> None:
    ids = [holder(admin, f"Studio {i}")["id"] for i in range(5)]
    person = admin.ok("post", "/v1/holders", 201, json={"name": "Ada", "kind": "person"})
    admin.ok("post", f"/v1/holders/{ids[0]}/retire", json={"reason": "duplicate"})

    seen, cursor = [], None
    while True:
        page = admin.ok("get", "/v1/holders", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += [h["id"] for h in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids + [person["id"]]

    people = admin.ok("get", "/v1/holders", params={"kind": "person"})["items"]
    assert [h["id"] for h in people] == [person["id"]]
    live = admin.ok("get", "/v1/holders", params={"retired": "false", "name": "Studio"})["items"]
    assert [h["id"] for h in live] == ids[1:]
    bad_cursor = admin.get("/v1/holders", params={"cursor": "!!!"})
    assert bad_cursor.status_code == 422
