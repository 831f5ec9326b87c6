"""Rights-holder lookups: a work (uploaded, or as pHashes) → its registered copies, the
sources holding them, the models trained on those, and the generations that matched them."""

import io

import imagehash
import pytest
from PIL import Image

from tests import media
from tests.conftest import Api
from tests.factories import upload
from tests.worlds import jpeg, lookup_world, seeded


def _lookup(api: Api, *files: tuple[str, bytes], status: int = 200) -> dict:
    response = api.post("/v1/lookups", files=[("files", f) for f in files])
    assert response.status_code == status, response.text
    return response.json()


def _log_size(api: Api) -> int:
    return int(api.client.get("/v1/log/checkpoint").text.splitlines()[1])


world = seeded(lookup_world)


def _works(result: dict, item: int = 0) -> dict[str, dict]:
    return {w["asset_id"]: w for w in result["items"][item]["works"]}


def test_upload_finds_the_work_its_copies_models_and_generations(admin: Api, world: dict) -> None:
    ann: Api = world["ann_key"]
    before = _log_size(admin)
    near = Image.open(media.image("coffee.png"))
    result = _lookup(ann, ("mine.jpg", jpeg(near, scale=0.7)))
    assert result["scope"] == world["ann"]["id"]
    works = _works(result)
    assert list(works) == [world["coffee"]["id"]]  # the mirror's copy is Bob's: dropped
    work = works[world["coffee"]["id"]]
    assert work["identical"] is False and work["verdict"] == "copy" and work["via"] == "image"
    assert work["holder_ids"] == [world["ann"]["id"]]
    assert (work["channel"], work["coverage"], work["mirrored"]) == ("global_hash", 1.0, False)
    # The same content is held by two sources, each with its licence; the model trained on
    # Ann's stills; the generation whose check matched the still. A reader sees both copies.
    [seen] = [w for w in _lookup(admin, ("mine.jpg", jpeg(near, scale=0.7)))["items"][0]["works"]
              if w["asset_id"] == world["coffee"]["id"]]
    sources = {s["source_id"]: s for s in seen["sources"]}
    assert set(sources) == {world["ann_src"]["id"], world["mirror"]["id"]}
    assert sources[world["ann_src"]["id"]]["licence"] == "CC-BY-4.0"
    assert sources[world["mirror"]["id"]]["licence"] == "CC-BY-NC-4.0"
    [model] = sources[world["ann_src"]["id"]]["models"]
    assert (model["model_id"], model["weight"]) == (world["model"]["id"], "0.750000")
    assert sources[world["mirror"]["id"]]["models"] == []
    # The check matched the still in both sources (the same file): one hit per copy.
    hits = seen["generations"]
    assert {h["asset_id"] for h in hits} == {world["coffee"]["id"], world["mirrored"]["id"]}
    assert {(h["generation_id"], h["production"], h["check_id"]) for h in hits} == {
        (world["generation"]["id"], "Short film", world["generation"]["check_ids"][0])}
    assert {c["asset_id"] for c in seen["copies"]} == {world["coffee"]["id"], world["mirrored"]["id"]}
    # Ann sees her own copy only: the mirror's is Bob's asset in Bob's source (as in her flags).
    assert [s["source_id"] for s in work["sources"]] == [world["ann_src"]["id"]]
    assert work["sources"][0] == sources[world["ann_src"]["id"]]
    assert [c["asset_id"] for c in work["copies"]] == [world["coffee"]["id"]]
    assert [(h["asset_id"], h["generation_id"]) for h in work["generations"]] == [
        (world["coffee"]["id"], world["generation"]["id"])]
    # A lookup is a read: nothing stored (not even the uploaded work), nothing logged.
    assert _log_size(admin) == before
    assert not admin.client.app.state.blobs.exists(result["items"][0]["sha256"])
    # The very same file is flagged as identical.
    same = _lookup(ann, ("coffee.png", media.image("coffee.png").read_bytes()))
    assert _works(same)[world["coffee"]["id"]]["identical"] is True


def test_scope_holders_see_their_own_works_readers_see_all(admin: Api, curator: Api,
                                                          auditor: Api, world: dict) -> None:
    coffee = ("c.jpg", jpeg(Image.open(media.image("coffee.png")), scale=0.7))
    chelsea = ("k.jpg", jpeg(Image.open(media.image("chelsea.png")), scale=0.7))
    every = {world["coffee"]["id"], world["mirrored"]["id"]}
    for reader in (admin, curator, auditor):
        result = _lookup(reader, coffee, chelsea)
        assert result["scope"] == "all"
        assert set(_works(result, 0)) == every
        assert set(_works(result, 1)) == {world["chelsea"]["id"]}
    ann = _lookup(world["ann_key"], coffee, chelsea)
    assert set(_works(ann, 0)) == {world["coffee"]["id"]} and _works(ann, 1) == {}
    bob = _lookup(world["bob_key"], coffee, chelsea)
    assert set(_works(bob, 0)) == {world["mirrored"]["id"]}
    assert set(_works(bob, 1)) == {world["chelsea"]["id"]}
    # Unrelated media finds nothing.
    assert _lookup(admin, ("rocket.jpg", media.image("rocket.jpg").read_bytes()))["items"][0]["works"] == []


def test_lookup_by_phash_only(admin: Api, auditor: Api, world: dict) -> None:
    local = str(imagehash.phash(Image.open(media.image("coffee.png"))))
    near = str(imagehash.phash(Image.open(io.BytesIO(jpeg(Image.open(media.image("astronaut.png")), scale=0.7)))))
    ann: Api = world["ann_key"]
    result = ann.ok("post", "/v1/lookups/fingerprints",
                    json={"phashes": [local, near, "0123456789abcdef"]})
    coffee, astronaut, nothing = (_works(result, i) for i in range(3))
    assert list(coffee) == [world["coffee"]["id"]] and coffee[world["coffee"]["id"]]["distance"] == 0
    assert list(astronaut) == [world["astronaut"]["id"]]
    assert nothing == {}
    assert {g["generation_id"] for g in coffee[world["coffee"]["id"]]["generations"]} == {world["generation"]["id"]}
    bob = world["bob_key"].ok("post", "/v1/lookups/fingerprints", json={"phashes": [near]})
    assert _works(bob) == {}  # Ann's still is not Bob's
    assert set(_works(auditor.ok("post", "/v1/lookups/fingerprints", json={"phashes": [local]}))) == \
        {world["coffee"]["id"], world["mirrored"]["id"]}


def test_lookup_by_clip_frames(admin: Api, world: dict) -> None:
    film = upload(admin, world["ann_src"]["id"], media.clip("bikes.mp4"))
    times, hashes = media.frame_phashes(media.clip("bikes.mp4"), 2.0, 4.0)
    result = world["ann_key"].ok("post", "/v1/lookups/fingerprints",
                                 json={"phashes": hashes, "timestamps": times})
    work = _works(result)[film["id"]]
    assert work["via"] == "clip" and work["spans"][0]["offset_s"] == pytest.approx(2.0, abs=0.1)
    assert world["bob_key"].ok("post", "/v1/lookups/fingerprints",
                               json={"phashes": hashes, "timestamps": times})["items"][0]["works"] == []


def test_bad_input_and_auth(admin: Api, client, world: dict) -> None:  # type: ignore[no-untyped-def]
    ann: Api = world["ann_key"]
    for body in ({"phashes": ["xyz"]}, {"phashes": []}, {"phashes": ["0123456789abcdef0"]},
                 {"phashes": ["0123456789abcdef"], "timestamps": [0, 1]},
                 {"phashes": ["0123456789abcdef"], "extra": 1}):
        response = ann.post("/v1/lookups/fingerprints", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert ann.post("/v1/lookups").status_code == 422
    not_media = ann.post("/v1/lookups", files=[("files", ("notes.txt", b"just some text"))])
    assert not_media.status_code in (415, 422)
    assert client.post("/v1/lookups/fingerprints", json={"phashes": ["0123456789abcdef"]}).status_code == 401
    assert client.post("/v1/lookups", files=[("files", ("a.png", b"x"))]).status_code == 401
