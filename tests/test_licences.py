from tests.conftest import Api

CUSTOM = {"identifier": "LicenseRef-Studio-Library-2026", "name": "Studio library licence",
          "commercial_use": True, "derivatives": True, "attribution_required": True,
          "ai_training": "constrained", "ai_training_constraint": "only for in-house models",
          "territory": ["gb", "FR"], "valid_from": "2026-01-01", "valid_until": "2027-12-31",
          "fee_flat": "2500.00", "royalty_rate": "0.015", "currency": "EUR"}


def test_catalogue_ships_common_licences_with_terms(admin: Api) -> None:
    items = admin.ok("get", "/v1/licences", params={"limit": 200})["items"]
    by_id = {item["identifier"]: item for item in items}
    for identifier in ("CC0-1.0", "CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-SA-4.0", "CC-BY-ND-4.0",
                       "LicenseRef-All-Rights-Reserved"):
        assert by_id[identifier]["builtin"] is True
    assert by_id["CC-BY-NC-4.0"]["commercial_use"] is False
    assert by_id["CC-BY-ND-4.0"]["derivatives"] is False
    assert by_id["CC-BY-SA-4.0"]["share_alike"] is True
    assert by_id["CC0-1.0"]["attribution_required"] is False
    assert by_id["LicenseRef-All-Rights-Reserved"]["ai_training"] == "not_allowed"
    not_allowed = admin.ok("get", "/v1/licences", params={"ai_training": "not_allowed"})["items"]
    assert [i["identifier"] for i in not_allowed] == ["LicenseRef-All-Rights-Reserved"]


def test_custom_licence_terms_round_trip(admin: Api) -> None:
    created = admin.ok("post", "/v1/licences", 201, json=CUSTOM)
    assert created["territory"] == ["FR", "GB"]
    assert created["fee_flat"] == "2500.00" and created["royalty_rate"] == "0.015000"
    updated = admin.ok("patch", f"/v1/licences/{created['id']}", json={"valid_until": "2028-06-30"})
    assert updated["valid_until"] == "2028-06-30"
    inconsistent = admin.patch(f"/v1/licences/{created['id']}", json={"valid_until": "2025-01-01"})
    assert inconsistent.status_code == 422
    assert "valid_until" in inconsistent.json()["detail"]


def test_spdx_expressions_are_validated(admin: Api) -> None:
    expr = admin.ok("post", "/v1/licences", 201, json=CUSTOM | {"identifier": "cc-by-4.0 OR mit"})
    assert expr["identifier"] == "CC-BY-4.0 OR MIT"
    unknown = admin.post("/v1/licences", json=CUSTOM | {"identifier": "Creative-Whatever-9"})
    assert unknown.status_code == 422
    assert "unknown SPDX" in unknown.json()["detail"]
    broken = admin.post("/v1/licences", json=CUSTOM | {"identifier": "MIT AND"})
    assert broken.status_code == 422


def test_constrained_training_needs_its_constraint(admin: Api) -> None:
    response = admin.post("/v1/licences", json=CUSTOM | {"ai_training_constraint": None})
    assert response.status_code == 422
    assert "constraint" in response.json()["detail"]
    fees = admin.post("/v1/licences", json=CUSTOM | {"currency": None})
    assert fees.status_code == 422


def test_builtin_licences_are_fixed(admin: Api) -> None:
    cc_by = admin.ok("get", "/v1/licences", params={"identifier": "CC-BY-4.0"})["items"][0]
    response = admin.patch(f"/v1/licences/{cc_by['id']}", json={"commercial_use": False})
    assert response.status_code == 409
