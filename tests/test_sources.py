from tests.conftest import Api
from tests.factories import builtin_licence, holder, source


def test_source_lifecycle_and_filters(admin: Api) -> None:
    blender = holder(admin, "Blender Foundation")
    studio = holder(admin, "Other Studio")
    cc_by = builtin_licence(admin, "CC-BY-4.0")
    nc = builtin_licence(admin, "CC-BY-NC-4.0")
    films = source(admin, [blender["id"]], cc_by["id"], name="Open movies", version="2026.1",
                   eidr="10.5240/7791-8534-2C23-9030-8610-5",
                   opt_out_signals=[{"signal": "tdmrep", "reserved": False,
                                     "detail": "tdm-reservation: 0"}])
    stills = source(admin, [studio["id"]], nc["id"], name="Stills", version="1",
                    media_types=["image/jpeg"])
    assert films["holder_ids"] == [blender["id"]] and films["asset_count"] == 0

    by_holder = admin.ok("get", "/v1/sources", params={"holder_id": studio["id"]})["items"]
    assert [s["id"] for s in by_holder] == [stills["id"]]
    by_licence = admin.ok("get", "/v1/sources", params={"licence_id": cc_by["id"]})["items"]
    assert [s["id"] for s in by_licence] == [films["id"]]
    videos = admin.ok("get", "/v1/sources", params={"media_type": "video/mp4"})["items"]
    assert [s["id"] for s in videos] == [films["id"]]

    next_version = source(admin, [blender["id"]], cc_by["id"], name="Open movies",
                          version="2026.2", supersedes_id=films["id"])
    assert next_version["supersedes_id"] == films["id"]
    duplicate = admin.post("/v1/sources", json={
        "name": "Open movies", "version": "2026.2", "media_types": ["video/mp4"],
        "holder_ids": [blender["id"]], "licence_id": cc_by["id"], "acquisition_method": "licensed"})
    assert duplicate.status_code == 409

    updated = admin.ok("patch", f"/v1/sources/{films['id']}",
                       json={"holder_ids": [blender["id"], studio["id"]]})
    assert updated["holder_ids"] == sorted([blender["id"], studio["id"]])
    retired = admin.ok("post", f"/v1/sources/{films['id']}/retire", json={"reason": "withdrawn"})
    assert retired["retired_reason"] == "withdrawn"
    live = admin.ok("get", "/v1/sources", params={"retired": "false"})["items"]
    assert films["id"] not in [s["id"] for s in live]


def test_source_references_must_exist_and_be_live(admin: Api) -> None:
    blender = holder(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")
    missing = admin.post("/v1/sources", json={
        "name": "S", "version": "1", "media_types": ["image/png"], "holder_ids": ["hld_nope"],
        "licence_id": cc_by["id"], "acquisition_method": "licensed"})
    assert missing.status_code == 404
    admin.ok("post", f"/v1/holders/{blender['id']}/retire", json={"reason": "gone"})
    retired = admin.post("/v1/sources", json={
        "name": "S", "version": "1", "media_types": ["image/png"], "holder_ids": [blender["id"]],
        "licence_id": cc_by["id"], "acquisition_method": "licensed"})
    assert retired.status_code == 409
    bad_eidr = admin.post("/v1/sources", json={
        "name": "S", "version": "1", "media_types": ["image/png"], "holder_ids": [blender["id"]],
        "licence_id": cc_by["id"], "acquisition_method": "licensed",
        "eidr": "10.5240/7791-8534-2C23-9030-8610-6"})
    assert bad_eidr.status_code == 422
