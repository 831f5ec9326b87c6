import io
import threading
from pathlib import Path

import imagehash
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageOps

from registry.fingerprints import matching
from registry.main import create_app
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload
from tests.worlds import check_references, jpeg, near_copy_of_astronaut, seeded

registered = seeded(check_references)


def _check(api: Api, *files: tuple[str, bytes], status: int = 201) -> dict:
    response = api.post("/v1/checks", files=[("files", f) for f in files])
    assert response.status_code == status, response.text
    return response.json()


def test_transformed_image_is_a_copy_and_unrelated_is_clear(admin: Api, registered: dict) -> None:
    result = _check(admin, ("generated.jpg", near_copy_of_astronaut()),
                    ("unrelated.jpg", media.image("rocket.jpg").read_bytes()))
    copy, clear = result["items"]
    assert result["verdict"] == "copy" and copy["verdict"] == "copy"
    top = copy["matches"][0]
    assert top["asset_id"] == registered["assets"]["astronaut.png"]["id"]
    assert (top["licence"], top["holder_ids"]) == ("CC-BY-4.0", [registered["holder"]["id"]])
    assert 0.5 <= top["score"] <= 1
    assert clear["verdict"] == "clear" and clear["matches"] == []
    stored = admin.ok("get", f"/v1/checks/{result['id']}")
    assert stored == result


def test_generated_frame_matches_the_film_frame_it_copies(admin: Api, registered: dict) -> None:
    frame = media.frame_at(media.clip("bikes.mp4"), 6.0).resize((320, 136))
    result = _check(admin, ("frame.jpg", jpeg(frame, 40)))
    [match] = [m for m in result["items"][0]["matches"] if m["via"] == "frame"]
    assert match["asset_id"] == registered["assets"]["bikes.mp4"]["id"]
    assert match["verdict"] == "copy"
    assert match["reference_time_s"] == pytest.approx(6.0, abs=0.2)


def test_transformed_clip_is_aligned_in_time(admin: Api, registered: dict, tmp_path: Path) -> None:
    copied = media.make_variant(media.clip("bikes.mp4"), tmp_path / "copy.mp4", start=3.0,
                                duration=2.5, scale=0.5, mirror=True, bitrate=200_000)
    unrelated = media.clip("carphone_pristine.mp4")
    result = _check(admin, ("copy.mp4", copied.read_bytes()), ("unrelated.mp4", unrelated.read_bytes()))
    copy, clear = result["items"]
    assert copy["verdict"] == "copy" and clear["verdict"] == "clear"
    [match] = copy["matches"]
    assert match["asset_id"] == registered["assets"]["bikes.mp4"]["id"] and match["via"] == "clip"
    assert (match["channel"], match["coverage"], match["mirrored"]) == ("global_hash", 1.0, True)
    span = match["spans"][0]
    assert span["mirrored"] is True
    assert span["offset_s"] == pytest.approx(3.0, abs=0.1)
    assert span["speed"] == pytest.approx(1.0, abs=0.05)
    assert span["reference_start_s"] == pytest.approx(3.0 + span["query_start_s"], abs=0.1)


def _strength(match: dict) -> tuple:
    """What the registry ranks matches by: the score, then pHash bits closer than chance
    (20), then inlier cells."""
    return match["score"], max(0, 20 - match["distance"]), match["inlier_cells"] or 0


def test_frames_of_one_shot_list_the_exact_frame_first(admin: Api, tmp_path: Path) -> None:
    # Neighbouring frames of a moving shot all saturate the score at 1.0; the pHash tells
    # them apart (6-20 bits here), so the frame that was copied comes first.
    films = source(admin, [holder(admin)["id"]], builtin_licence(admin, "CC-BY-4.0")["id"])
    frames = {}
    for t in (0.0, 0.4, 0.8, 1.2, 1.6, 2.0):
        path = tmp_path / f"bunny-{t}.png"
        media.frame_at(media.clip("bigbuckbunny.mp4"), t).save(path)
        frames[t] = upload(admin, films["id"], path)["id"]
    copied = media.frame_at(media.clip("bigbuckbunny.mp4"), 0.8)  # registered third
    matches = _check(admin, ("still.jpg", jpeg(copied)))["items"][0]["matches"]
    assert len(matches) == 5 and {m["score"] for m in matches} == {1.0}
    first = matches[0]
    assert first["asset_id"] == frames[0.8]
    assert (first["channel"], first["coverage"], first["transform"]) == ("global_hash", 1.0, None)
    assert first["distance"] <= 2
    strengths = [_strength(m) for m in matches]
    assert strengths == sorted(strengths, reverse=True) and len(set(strengths)) == len(strengths)
    # The neighbours a few frames away are still whole-picture matches; farther ones need ORB.
    assert {m["channel"] for m in matches[1:]} == {"global_hash", "local_features"}


def test_each_match_says_what_found_it_and_where(admin: Api, registered: dict, tmp_path: Path) -> None:
    astronaut = Image.open(media.image("astronaut.png")).convert("RGB")
    w, h = astronaut.size
    crop = astronaut.crop((int(0.2 * w), int(0.1 * h), int(0.8 * w), int(0.7 * h)))  # 60% a side
    bikes = media.frame_at(media.clip("bikes.mp4"), 6.0)
    fw, fh = bikes.size
    result = _check(admin, ("plain.jpg", jpeg(astronaut)), ("crop.jpg", jpeg(crop.resize((200, 200)))),
                    ("mirrored.jpg", jpeg(ImageOps.mirror(crop))),
                    ("frame.jpg", jpeg(bikes.crop((fw // 10, fh // 10, fw - fw // 10, fh - fh // 10)))))
    plain, cropped, mirrored, frame = (item["matches"][0] for item in result["items"])
    assert plain["asset_id"] == cropped["asset_id"] == mirrored["asset_id"] \
        == registered["assets"]["astronaut.png"]["id"]
    assert (plain["channel"], plain["coverage"], plain["mirrored"], plain["transform"]) \
        == ("global_hash", 1.0, False, None)
    for match, flipped in ((cropped, False), (mirrored, True)):
        assert match["channel"] == "local_features" and match["mirrored"] is flipped
        assert 0 < match["coverage"] <= 1 and match["inlier_cells"] > 5
        move = match["transform"]  # where the crop sits in the work, whatever its resolution
        assert move["scale"] == pytest.approx(0.6, abs=0.03)
        assert move["rotation_deg"] == pytest.approx(0, abs=2)
        assert (move["tx"], move["ty"]) == (pytest.approx(0.2, abs=0.03), pytest.approx(0.1, abs=0.03))
    # A crop of a film frame (10% a side) matches through the frame's centre-80% window.
    assert frame["asset_id"] == registered["assets"]["bikes.mp4"]["id"] and frame["via"] == "frame"
    assert (frame["channel"], frame["coverage"]) == ("crop_window", 0.64)
    assert frame["transform"] == {"scale": 0.8, "rotation_deg": 0.0, "tx": 0.1, "ty": 0.1}


def test_vertical_reframes_and_picture_in_picture_are_found(admin: Api, registered: dict) -> None:
    coffee = Image.open(media.image("coffee.png")).convert("RGB")  # 600x400
    w, h = coffee.size
    vertical = coffee.crop((330, 40, 330 + 180, 40 + 320))  # 9:16, 24% of the area, off-centre
    backdrop = media.frame_at(media.clip("carphone_pristine.mp4"), 1.0).resize((1280, 720))
    camera = Image.open(media.image("camera.png")).convert("RGB").resize((420, 420))  # 33% wide
    pip = backdrop.copy()
    pip.paste(ImageOps.mirror(camera), (800, 250))
    rocket = Image.open(media.image("rocket.jpg")).convert("RGB")  # never registered
    never = backdrop.copy()
    never.paste(rocket.resize((420, 280)), (800, 250))
    result = _check(admin, ("vertical.jpg", jpeg(vertical.resize((135, 240)), 40)),
                    ("pip.jpg", jpeg(pip, 50)),
                    ("unrelated-vertical.jpg", jpeg(rocket.crop((300, 0, 540, 427)), 40)),
                    ("unrelated-pip.jpg", jpeg(never, 50)))
    reframed, inset, *unrelated = result["items"]
    assert [item["verdict"] for item in unrelated] == ["clear", "clear"]
    first = reframed["matches"][0]
    assert (first["asset_id"], first["verdict"], first["channel"]) \
        == (registered["assets"]["coffee.png"]["id"], "copy", "local_features")
    move = first["transform"]  # where the vertical window sits in the work
    assert (move["tx"], move["ty"]) == (pytest.approx(330 / w, abs=0.03), pytest.approx(40 / h, abs=0.03))
    assert move["scale"] == pytest.approx(320 / w, abs=0.05)
    first = inset["matches"][0]
    assert (first["asset_id"], first["verdict"], first["mirrored"]) \
        == (registered["assets"]["camera.png"]["id"], "copy", True)
    assert first["coverage"] < 0.25  # the inset is a small part of the query frame


def _hard_vertical_reframe() -> bytes:
    """A 9:16 window of coffee.png (28% of the area) at a third of its size, JPEG q15: too
    few keypoints survive for the inlier cells alone to make it a copy."""
    coffee = Image.open(media.image("coffee.png")).convert("RGB")  # 600x400
    return jpeg(coffee.crop((377, 0, 377 + 225, 400)).resize((75, 133)), 15)


def test_a_weak_fit_is_a_copy_when_the_aligned_pictures_agree(admin: Api, registered: dict, cli,  # type: ignore[no-untyped-def]
                                                              settings, tmp_path: Path) -> None:
    import json

    import sqlalchemy as sa

    result = _check(admin, ("vertical.jpg", _hard_vertical_reframe()),
                    ("unrelated.jpg", jpeg(Image.open(media.image("rocket.jpg")).crop((300, 0, 540, 427)), 15)))
    reframed, unrelated = result["items"]
    assert unrelated["verdict"] == "clear"
    [first, *_] = reframed["matches"]
    assert (first["asset_id"], first["verdict"], first["channel"]) \
        == (registered["assets"]["coffee.png"]["id"], "copy", "local_features")
    assert first["inlier_cells"] < 10 and first["picture_agreement"] > 0.8
    assert first["transform"]["tx"] == pytest.approx(377 / 600, abs=0.03)
    # a descriptor carries the picture's grey levels, so it gets the same verdict
    (tmp_path / "vertical.jpg").write_bytes(_hard_vertical_reframe())
    assert cli("fingerprint", str(tmp_path / "vertical.jpg"), "-o", str(tmp_path / "d.json")).exit_code == 0
    sent = admin.ok("post", "/v1/checks/fingerprints", 201,
                    json={"descriptors": [json.loads((tmp_path / "d.json").read_text())]})
    assert sent["items"][0]["matches"] == reframed["matches"]
    # A fingerprint stored before version 2 has no thumbnail: the fit alone is too weak,
    # until `registry index backfill` fingerprints the picture again.
    engine = sa.create_engine(settings.effective_database_url)
    asset_id = registered["assets"]["coffee.png"]["id"]
    with engine.begin() as conn:
        data = json.loads(conn.execute(sa.text("SELECT data FROM fingerprint_set WHERE asset_id = :a"),
                                       {"a": asset_id}).scalar_one())
        old = {k: v for k, v in data.items() if k != "thumbnail"} | {"version": 1}
        conn.execute(sa.text("UPDATE fingerprint_set SET data = :d, version = 1 WHERE asset_id = :a"),
                     {"d": json.dumps(old).encode(), "a": asset_id})
    engine.dispose()
    with TestClient(create_app(settings)) as before:
        [item] = _check(Api(before, admin.key), ("vertical.jpg", _hard_vertical_reframe()))["items"]
        assert item["verdict"] != "copy"
    result = cli("index", "backfill")
    assert result.exit_code == 0 and "0 asset(s) could not be fingerprinted" in result.output
    with TestClient(create_app(settings)) as after:
        [item] = _check(Api(after, admin.key), ("vertical.jpg", _hard_vertical_reframe()))["items"]
        assert item["verdict"] == "copy" and item["matches"][0]["picture_agreement"] > 0.8


def test_a_fit_whose_aligned_pictures_disagree_is_no_evidence(admin: Api, registered: dict,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock picture fits the mirrored retina photograph on 9 cells (circle on circle),
    but the retina placed by that fit does not look like the clock: the fit counts nothing."""
    upload(admin, registered["source"]["id"], media.image("retina.jpg"))
    clock = ("clock.png", media.image("clock_motion.png").read_bytes())
    [item] = _check(admin, clock)["items"]
    assert item["verdict"] == "clear" and item["matches"] == []
    veto = matching.AGREEMENT_VETO
    monkeypatch.setattr(matching, "AGREEMENT_VETO", -1.0)  # every fit counted, as before
    [item] = _check(admin, clock)["items"]
    [match] = item["matches"]
    assert item["verdict"] == "similar" and match["inlier_cells"] >= 9
    assert match["picture_agreement"] < veto


def test_a_cropped_clip_is_found_through_crop_windows(admin: Api, registered: dict,
                                                     tmp_path: Path) -> None:
    copied = media.make_variant(media.clip("bikes.mp4"), tmp_path / "copy.mp4", start=3.0,
                                duration=2.5, scale=0.5, crop=0.1)
    [match] = _check(admin, ("copy.mp4", copied.read_bytes()))["items"][0]["matches"]
    assert match["via"] == "clip" and match["verdict"] == "copy"
    assert (match["channel"], match["coverage"], match["mirrored"]) == ("crop_window", 0.64, False)
    assert match["transform"]["scale"] == 0.8


def test_lookup_by_hash_only(admin: Api, registered: dict) -> None:
    local = str(imagehash.phash(Image.open(media.image("coffee.png"))))
    result = admin.ok("post", "/v1/checks/fingerprints", 201,
                      json={"phashes": [local, "0123456789abcdef"]})
    found, nothing = result["items"]
    assert found["matches"][0]["asset_id"] == registered["assets"]["coffee.png"]["id"]
    assert found["matches"][0]["distance"] == 0 and found["verdict"] == "copy"
    assert (found["matches"][0]["channel"], found["matches"][0]["coverage"]) == ("global_hash", 1.0)
    assert nothing["verdict"] == "clear"
    # A clip's frames hashed locally, with their times: aligned like an uploaded clip.
    times, hashes = media.frame_phashes(media.clip("bikes.mp4"), 2.0, 4.0)
    clip = admin.ok("post", "/v1/checks/fingerprints", 201, json={"phashes": hashes, "timestamps": times})
    span = clip["items"][0]["matches"][0]["spans"][0]
    assert span["offset_s"] == pytest.approx(2.0, abs=0.1)
    bad = admin.post("/v1/checks/fingerprints", json={"phashes": ["xyz"]})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    mismatched = admin.post("/v1/checks/fingerprints", json={"phashes": [local], "timestamps": [0, 1]})
    assert mismatched.status_code == 422


def test_retired_assets_stop_matching_at_once(admin: Api, registered: dict) -> None:
    coffee = registered["assets"]["coffee.png"]
    image = Image.open(media.image("coffee.png"))
    assert _check(admin, ("c.jpg", jpeg(image)))["verdict"] == "copy"
    admin.ok("post", f"/v1/assets/{coffee['id']}/retire", json={"reason": "licence withdrawn"})
    assert _check(admin, ("c.jpg", jpeg(image)))["verdict"] == "clear"


def test_matches_survive_a_restart(admin: Api, registered: dict, settings) -> None:  # type: ignore[no-untyped-def]
    admin.client.__exit__(None, None, None)  # shut the first app down (it saves its index)
    with TestClient(create_app(settings)) as restarted:
        index = restarted.app.state.index
        assert index.loaded_from_snapshot == 4 and index.last_catch_up_count == 0
        again = Api(restarted, admin.key)
        result = _check(again, ("a.jpg", jpeg(Image.open(media.image("camera.png")))))
        assert result["items"][0]["matches"][0]["asset_id"] == registered["assets"]["camera.png"]["id"]
        frame = media.frame_at(media.clip("bikes.mp4"), 6.0)
        [match] = [m for m in _check(again, ("f.jpg", jpeg(frame)))["items"][0]["matches"]
                   if m["via"] == "frame"]
        assert match["asset_id"] == registered["assets"]["bikes.mp4"]["id"]


def test_another_replica_matches_what_one_registered(admin: Api, registered: dict, settings) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings)) as replica:
        other = Api(replica, admin.key)
        rocket = jpeg(Image.open(media.image("rocket.jpg")))
        assert _check(other, ("r.jpg", rocket))["verdict"] == "clear"
        upload(admin, registered["source"]["id"], media.image("rocket.jpg"))  # through the first app
        result = _check(other, ("r.jpg", rocket))
        assert result["verdict"] == "copy"
        assert replica.app.state.index.last_catch_up_count == 1  # read by number, at once
        _check(other, ("r.jpg", rocket))
        assert replica.app.state.index.last_catch_up_count == 0  # an idle catch-up reads nothing


def test_concurrent_ingest_and_checks(admin: Api, registered: dict) -> None:
    names = ["chelsea.png", "rocket.jpg", "coins.png", "moon.png"]
    errors: list[str] = []

    def ingest() -> None:
        for name in names:
            with media.image(name).open("rb") as fh:
                response = admin.post(f"/v1/sources/{registered['source']['id']}/assets",
                                      files={"file": (name, fh)})
            if response.status_code != 201:
                errors.append(response.text)

    def check() -> None:
        for _ in range(4):
            astronaut = jpeg(Image.open(media.image("astronaut.png")))
            response = admin.post("/v1/checks", files={"files": ("a.jpg", astronaut)})
            if response.status_code != 201 or response.json()["verdict"] != "copy":
                errors.append(response.text)

    threads = [threading.Thread(target=ingest), threading.Thread(target=check)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # What was ingested a moment ago is matchable now.
    assert _check(admin, ("r.jpg", jpeg(Image.open(media.image("rocket.jpg")))))["verdict"] == "copy"


@pytest.mark.parametrize("name,payload,status,words", [
    ("notes.txt", b"not media at all\n" * 10, 415, "not a recognised image or video"),
    ("cut.mp4", media.clip("bikes.mp4").read_bytes()[:120_000], 422, "truncated"),
    ("cut.png", media.image("coffee.png").read_bytes()[:20_000], 422, "truncated"),
])
def test_bad_check_inputs(admin: Api, registered: dict, settings, name: str, payload: bytes,  # type: ignore[no-untyped-def]
                          status: int, words: str) -> None:
    response = admin.post("/v1/checks", files={"files": (name, payload)})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
    for left in (".staging", ".holds"):  # no staged upload, no hold on a blob
        assert list((settings.effective_blob_dir / left).iterdir()) == []


def test_clip_over_the_length_limit_and_bombs(admin: Api, registered: dict) -> None:
    admin.client.app.state.settings.max_clip_seconds = 3.0
    response = admin.post("/v1/checks", files={"files": ("long.mp4", media.clip("bikes.mp4").read_bytes())})
    assert response.status_code == 422 and "limit" in response.json()["detail"]
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG")
    bomb = admin.post("/v1/checks", files={"files": ("bomb.png", buffer.getvalue())})
    assert bomb.status_code == 422 and "decompression bomb" in bomb.json()["detail"]


def test_check_roles(admin: Api, auditor: Api, registered: dict) -> None:
    result = _check(admin, ("a.jpg", jpeg(Image.open(media.image("camera.png")))))
    assert auditor.ok("get", f"/v1/checks/{result['id']}")["id"] == result["id"]
    assert auditor.post("/v1/checks", files={"files": ("a.jpg", b"x")}).status_code == 403
    owner = admin.make_key("rights_holder", holder_id=registered["holder"]["id"])
    assert owner.get(f"/v1/checks/{result['id']}").status_code == 403
    other_curator = admin.make_key("curator")
    assert other_curator.get(f"/v1/checks/{result['id']}").status_code == 404


def test_index_rebuild_and_update_from_the_cli(admin: Api, registered: dict, cli, settings) -> None:  # type: ignore[no-untyped-def]
    result = cli("index", "rebuild")
    assert result.exit_code == 0, result.output
    assert "index rebuilt: 4 assets" in result.output
    assert (settings.data_dir / "index" / "state.json").exists()
    upload(admin, registered["source"]["id"], media.image("chelsea.png"))
    result = cli("index", "update")
    assert result.exit_code == 0, result.output
    assert "index up to date: 5 assets" in result.output


def test_backfill_fingerprints_assets_that_have_none(admin: Api, registered: dict, cli, settings) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    engine = sa.create_engine(settings.effective_database_url)
    with engine.begin() as conn:  # as if registered before fingerprinting existed
        conn.execute(sa.text("DELETE FROM fingerprint_set"))
    engine.dispose()
    result = cli("index", "backfill")
    assert result.exit_code == 0, result.output
    assert "0 asset(s) could not be fingerprinted" in result.output
    assert cli("index", "backfill").exit_code == 0  # nothing left to do
    with TestClient(create_app(settings)) as fresh:
        found = _check(Api(fresh, admin.key), ("a.jpg", jpeg(Image.open(media.image("camera.png")))))
        assert found["items"][0]["matches"][0]["asset_id"] == registered["assets"]["camera.png"]["id"]


VERTICAL = 9 / 16 * 9 / 16  # share of a 16:9 frame's width a 9:16 reframe keeps
BIKES_VERTICAL = 272 * 9 / 16 / 640  # ... and of bikes' 2.35:1 frame


@pytest.mark.parametrize(("film", "start", "edit"), [
    ("bigbuckbunny.mp4", 1.0, {"window": lambda u: (0.2, 0.0, 0.2 + VERTICAL, 1.0),
                               "bitrate": 300_000}),
    ("bigbuckbunny.mp4", 0.5, {"window": lambda u: (0.07 + 0.34 * u, 0.0, 0.07 + 0.34 * u + VERTICAL, 1.0)}),
    # the film's 5 s keyframe is every look's strongest hit here: reframe._lines
    ("bigbuckbunny.mp4", 0.52, {"window": lambda u: (0.55, 0.0, 0.55 + VERTICAL, 1.0)}),
    # fast footage: one look only lands near enough a keyframe to find it
    # (reframe.MIN_HIT_FRAMES)
    ("bikes.mp4", 2.5, {"window": lambda u: (0.0, 0.0, BIKES_VERTICAL, 1.0)}),
    # ... and here no regular look lands near enough (their hits fit keyframes far from
    # them): the in-between looks do, and the placement their fits agree on reads the grids
    # (clip_query.IN_BETWEEN_LOOKS, reframe._placements: without either, no match)
    ("bikes.mp4", 2.05, {"window": lambda u: (1 - BIKES_VERTICAL, 0.0, 1.0, 1.0)}),
    # the re-fits' transforms give a line at 0.92x, 79 ms late; the placement two looks
    # agree on reads the grids better, at 1x (reframe._refine_clip: placements compete)
    ("bikes.mp4", 0.2, {"window": lambda u: (0.4 * (1 - BIKES_VERTICAL), 0.0,
                                             0.4 * (1 - BIKES_VERTICAL) + BIKES_VERTICAL, 1.0)}),
    ("bikes.mp4", 1.0, {"inset": (media.image("astronaut.png"), 0.4, (0.1, 0.2))}),
    # grid cells of a dozen query pixels: the fitted transforms alone read them too far
    # off to find it (refinement._polished)
    ("bikes.mp4", 2.08, {"inset": (media.image("chelsea.png"), 0.31, (0.05, 0.9))}),
    # its border steps in colour more than in grey (image._steps)
    ("bikes.mp4", 1.0, {"inset": (media.image("astronaut.png"), 0.31, (0.05, 0.9))}),
    ("bikes.mp4", 3.0, {"window": lambda u: (0.3, 0.0, 1.0, 0.71), "scale": 0.8}),
], ids=["vertical reframe", "pan-and-scan", "slow-shot vertical reframe",
        "fast-shot vertical reframe", "fast-shot vertical reframe between looks",
        "fast-shot vertical reframe, placement against re-fits", "picture-in-picture",
        "small picture-in-picture", "picture-in-picture, colour border", "off-centre 50% crop"])
def test_reframed_clips_are_found_with_their_offset(admin: Api, registered: dict, tmp_path: Path,
                                                    film: str, start: float, edit: dict) -> None:
    if film not in registered["assets"]:
        registered["assets"][film] = upload(admin, registered["source"]["id"], media.clip(film))
    copied = media.make_variant(media.clip(film), tmp_path / "copy.mp4", start=start,
                                duration=2.5, **edit)
    [match] = _check(admin, ("copy.mp4", copied.read_bytes()))["items"][0]["matches"]
    assert match["asset_id"] == registered["assets"][film]["id"]
    assert (match["via"], match["verdict"], match["channel"]) == ("clip", "copy", "local_features")
    # the query frame in units of the film's: a crop is smaller, an inset's canvas larger
    assert match["coverage"] < 1.0
    assert (match["transform"]["scale"] > 1.0) == ("inset" in edit)
    [span] = match["spans"]
    assert span["offset_s"] == pytest.approx(start, abs=0.04)  # within one frame at 25 fps
    assert span["speed"] == pytest.approx(1.0, rel=0.05)
