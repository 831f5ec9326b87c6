"""Query descriptors: ``registry fingerprint FILE`` computed locally, then sent instead of
the file, get the verdict and matches that uploading the file gets."""

import base64
import copy
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from registry.fingerprints import matching
from registry.fingerprints.clip_query import MAX_GRAYS
from registry.fingerprints.descriptors import from_json, to_json
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload


@pytest.fixture
def registered(admin: Api) -> dict:
    films = source(admin, [holder(admin)["id"]], builtin_licence(admin, "CC-BY-4.0")["id"])
    return {name: upload(admin, films["id"], path)["id"] for name, path in (
        ("astronaut", media.image("astronaut.png")), ("coffee", media.image("coffee.png")),
        ("bikes", media.clip("bikes.mp4")))}


def _edited_astronaut(path: Path) -> Path:
    """Cropped, mirrored, shrunk and re-encoded: its plain pHash is far from the work's."""
    astronaut = Image.open(media.image("astronaut.png")).convert("RGB")
    w, h = astronaut.size
    edited = ImageOps.mirror(astronaut.crop((60, 40, w - 60, h - 80))).resize((300, 280))
    edited.save(path, format="JPEG", quality=60)
    return path


def _fingerprint(cli, path: Path, tmp_path: Path) -> dict:  # type: ignore[no-untyped-def]
    out = tmp_path / f"{path.name}.json"
    result = cli("fingerprint", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def _upload(api: Api, path: Path, endpoint: str) -> dict:
    with path.open("rb") as fh:
        response = api.post(endpoint, files=[("files", (path.name, fh))])
    assert response.status_code in (200, 201), response.text
    return response.json()["items"][0]


def _send(api: Api, endpoint: str, *descriptors: dict) -> dict:
    response = api.post(endpoint, json={"descriptors": list(descriptors)})
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_an_image_descriptor_gets_the_uploads_verdict_and_matches(
        admin: Api, registered: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copied = _edited_astronaut(tmp_path / "copy.jpg")
    descriptor = _fingerprint(cli, copied, tmp_path)
    assert (descriptor["format"], descriptor["version"], descriptor["kind"]) == (
        "registry.query-descriptor", 5, "image")
    uploaded = _upload(admin, copied, "/v1/checks")
    sent = _send(admin, "/v1/checks/fingerprints", descriptor)
    [item] = sent["items"]
    assert (item["name"], item["sha256"]) == ("copy.jpg", None)
    assert item["verdict"] == uploaded["verdict"] == "copy"
    assert item["matches"] == uploaded["matches"]
    assert item["matches"][0]["asset_id"] == registered["astronaut"]
    assert item["matches"][0]["channel"] == "local_features"
    assert admin.ok("get", f"/v1/checks/{sent['id']}") == sent  # stored like any check
    # The plain pHash alone (what hash-only clients send) does not find this copy.
    plain = admin.ok("post", "/v1/checks/fingerprints", 201, json={"phashes": [descriptor["phash"]]})
    assert registered["astronaut"] not in {m["asset_id"] for m in plain["items"][0]["matches"]}


def test_a_lookup_by_descriptor_answers_as_the_upload(
        admin: Api, registered: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copied = _edited_astronaut(tmp_path / "mine.jpg")
    frame = tmp_path / "frame.png"
    media.frame_at(media.clip("bikes.mp4"), 6.0).resize((320, 136)).save(frame)
    uploaded = [_upload(admin, path, "/v1/lookups") for path in (copied, frame)]
    sent = _send(admin, "/v1/lookups/fingerprints",
                 *(_fingerprint(cli, path, tmp_path) for path in (copied, frame)))
    for by_upload, by_descriptor in zip(uploaded, sent["items"], strict=True):
        assert by_descriptor["works"] == by_upload["works"] and by_upload["works"]
    assert sent["items"][0]["works"][0]["asset_id"] == registered["astronaut"]
    assert sent["items"][1]["works"][0]["asset_id"] == registered["bikes"]


def test_a_clip_descriptor_gets_the_uploads_spans(
        admin: Api, registered: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copied = media.make_variant(media.clip("bikes.mp4"), tmp_path / "copy.mp4", start=3.0,
                                duration=2.5, scale=0.5, crop=0.1, mirror=True)
    descriptor = _fingerprint(cli, copied, tmp_path)
    assert descriptor["kind"] == "clip"
    assert descriptor["frames"]["count"] > 10
    uploaded = _upload(admin, copied, "/v1/checks")
    [item] = _send(admin, "/v1/checks/fingerprints", descriptor)["items"]
    assert item["verdict"] == uploaded["verdict"] == "copy"
    assert item["matches"] == uploaded["matches"]
    [match] = item["matches"]
    assert (match["asset_id"], match["via"], match["mirrored"]) == (registered["bikes"], "clip", True)
    assert match["spans"][0]["offset_s"] == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize(("start", "edit"), [
    (1.0, {"inset": (media.image("astronaut.png"), 0.4, (0.1, 0.2))}),
    (3.0, {"window": lambda u: (0.3, 0.0, 1.0, 0.71), "scale": 0.8}),
    # found through the in-between looks only (tests/test_checks.py)
    (2.05, {"window": lambda u: (1 - 272 * 9 / 16 / 640, 0.0, 1.0, 1.0)}),
], ids=["picture-in-picture", "off-centre 50% crop", "vertical reframe between looks"])
def test_a_reframed_clips_descriptor_is_searched_as_the_upload(
        admin: Api, registered: dict, cli, tmp_path: Path, start: float, edit: dict) -> None:  # type: ignore[no-untyped-def]
    copied = media.make_variant(media.clip("bikes.mp4"), tmp_path / "copy.mp4", start=start,
                                duration=2.5, **edit)
    descriptor = _fingerprint(cli, copied, tmp_path)
    looks, grays = descriptor["reframe"]["looks"], descriptor["reframe"]["grays"]
    # a look every half second, and three between each two (a 2.5-s clip is short)
    assert looks["count"] == 20 and grays["count"] == descriptor["frames"]["count"]
    assert base64.b64decode(looks["in_between"]) == bytes([0, 1, 1, 1] * 5)
    uploaded = _upload(admin, copied, "/v1/checks")
    [item] = _send(admin, "/v1/checks/fingerprints", descriptor)["items"]
    assert item["verdict"] == uploaded["verdict"] == "copy"
    assert item["matches"] == uploaded["matches"]
    [match] = item["matches"]
    assert (match["asset_id"], match["channel"]) == (registered["bikes"], "local_features")
    assert match["spans"][0]["offset_s"] == pytest.approx(start, abs=0.04)
    # the frame hashes alone (--hashes-only, or a version 1 descriptor) do not find it
    out = tmp_path / "hashes.json"
    assert cli("fingerprint", str(copied), "--hashes-only", "-o", str(out)).exit_code == 0
    hashes_only = json.loads(out.read_text())
    assert "reframe" not in hashes_only and hashes_only["frames"] == descriptor["frames"]
    for sent in (hashes_only, hashes_only | {"version": 1}):
        [item] = _send(admin, "/v1/checks/fingerprints", sent)["items"]
        assert item["verdict"] == "clear"


def _coffee_inset(path: Path) -> Path:
    """coffee.png shrunk to a third of the width of a bikes.mp4 frame, then the whole at half
    size: a picture-in-picture whose inset is some 140 pixels wide."""
    backdrop = media.frame_at(media.clip("bikes.mp4"), 2.0).convert("RGB").resize((840, 472))
    coffee = Image.open(media.image("coffee.png")).convert("RGB")
    backdrop.paste(coffee.resize((280, round(280 * coffee.height / coffee.width))), (420, 90))
    backdrop.resize((420, 236)).save(path, format="JPEG", quality=70)
    return path


def test_a_picture_in_picture_descriptor_carries_its_inset(
        admin: Api, registered: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pip = _coffee_inset(tmp_path / "pip.jpg")
    descriptor = _fingerprint(cli, pip, tmp_path)
    assert set(descriptor["inset"]) == {"phash", "mirror", "size", "orb"}
    assert descriptor["inset"]["size"] == descriptor["size"]
    uploaded = _upload(admin, pip, "/v1/checks")
    [item] = _send(admin, "/v1/checks/fingerprints", descriptor)["items"]
    assert item["verdict"] == uploaded["verdict"] == "copy"
    assert item["matches"] == uploaded["matches"]
    assert item["matches"][0]["asset_id"] == registered["coffee"]
    # A version 1 descriptor (no inset, no grey picture) is still read; an inset in one is refused.
    old = {k: v for k, v in descriptor.items() if k not in ("inset", "gray")} | {"version": 1}
    assert _send(admin, "/v1/checks/fingerprints", old)["items"][0]["verdict"] in (
        "copy", "similar", "clear")
    response = admin.post("/v1/checks/fingerprints", json={"descriptors": [
        {k: v for k, v in descriptor.items() if k != "gray"} | {"version": 1}]})
    assert response.status_code == 422 and "inset: a version 2 field" in response.text


def test_a_small_pictures_descriptor_carries_its_smaller_retry_looks(
        admin: Api, registered: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A 9:16 reframe of coffee.png keeping a third of it, shrunk to a 190-pixel long side:
    # its retry looks are at 512, 320 and 224 px, not 512 and 1024 (image.retry_sides).
    coffee = Image.open(media.image("coffee.png")).convert("RGB")
    w, h = coffee.size
    small = tmp_path / "small.jpg"
    reframe = coffee.crop((w // 3, 0, w // 3 + round(h * 9 / 16), h))
    reframe.resize((107, 190)).save(small, format="JPEG", quality=40)
    descriptor = _fingerprint(cli, small, tmp_path)
    assert [max(view["size"]) for view in descriptor["retries"]] == [512, 320, 224]
    uploaded = _upload(admin, small, "/v1/checks")
    [item] = _send(admin, "/v1/checks/fingerprints", descriptor)["items"]
    assert item["verdict"] == uploaded["verdict"] == "copy"
    assert item["matches"] == uploaded["matches"]
    assert item["matches"][0]["asset_id"] == registered["coffee"]
    # Before version 5 a descriptor's retries were always at 512 and 1024.
    response = admin.post("/v1/checks/fingerprints", json={"descriptors": [descriptor | {"version": 4}]})
    assert response.status_code == 422
    assert ("retries: expected 2 views, at long sides 512, 1024; a small picture's 3 views, "
            "at 512, 320, 224, from version 5 on") in response.text


def test_the_json_form_round_trips(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small = tmp_path / "small.png"
    Image.open(media.image("coffee.png")).resize((200, 133)).save(small)
    for path in (media.image("coffee.png"), _coffee_inset(tmp_path / "pip.jpg"), small,
                 media.clip("bikes.mp4")):
        written = _fingerprint(cli, path, tmp_path)
        assert to_json(from_json(written), written["name"]) == written
    result = cli("fingerprint", str(Path(__file__)))
    assert result.exit_code == 2 and "not a recognised image or video" in result.output


def _b64(data: bytes | int) -> str:
    return base64.b64encode(bytes(data)).decode()


def _changed(descriptor: dict, path: str, value: object) -> dict:
    changed = copy.deepcopy(descriptor)
    *parents, key = path.split(".")
    target = changed
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[key] = value
    return changed


def test_bad_descriptors_are_422_problems(admin: Api, registered: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = _fingerprint(cli, media.image("coffee.png"), tmp_path)
    clip_file = tmp_path / "short.mp4"
    media.make_variant(media.clip("bikes.mp4"), clip_file, duration=0.5)
    clip = _fingerprint(cli, clip_file, tmp_path)
    n = image["orb"]["plain"]["count"]
    looks = clip["reframe"]["looks"]
    gw, gh = clip["reframe"]["grays"]["size"]
    too_many = {"count": 1001, "codes": _b64(1001 * 32), "points": _b64(1001 * 8), "angles": _b64(1001)}

    def frames(n: int, times: np.ndarray | None = None, informative: int = 1) -> dict:
        times = np.arange(n) / 30 if times is None else times
        return {**clip, "frames": {"count": n, "timestamps": _b64(times.astype("<f8").tobytes()),
                                   "phashes": _b64(bytes(8 * n)), "mirror_phashes": _b64(bytes(8 * n)),
                                   "informative": _b64(bytes([informative]) * n)}}
    cases = [
        (_changed(image, "version", 6),
         "unsupported descriptor version 6: this registry reads version(s) 1, 2, 3, 4, 5"),
        (_changed(clip, "version", 3), "reframe.looks.in_between: a version 4 field"),
        (_changed(clip, "reframe.looks.in_between", _b64(bytes([2] * looks["count"]))),
         "reframe.looks.in_between: 1 or 0 per look"),
        (_changed(clip, "reframe.looks.in_between", _b64(looks["count"] + 1)),
         "reframe.looks.in_between: expected the base64"),
        (_changed(clip, "version", 1), "reframe: not part of descriptor version 1"),
        (_changed(clip, "reframe.grays.size", [gw + 1, gh]), "reframe.grays.size"),
        (_changed(clip, "reframe.grays.pixels", _b64(gw * gh)), "reframe.grays.pixels: expected the base64"),
        (_changed(clip, "reframe.grays.count", MAX_GRAYS + 1), "reframe.grays.count"),
        (_changed(clip, "reframe.looks.timestamps", _b64(np.full(looks["count"], np.nan).tobytes())),
         "reframe.looks.timestamps: strictly increasing"),
        (_changed(clip, "reframe.looks.frames", looks["frames"][:-1]), "reframe.looks.frames"),
        (_changed(clip, "reframe.looks.frames.0.orb.plain.count", 1), "reframe.looks.frames[0].orb.plain.codes"),
        (_changed(clip, "version", "1"), "unsupported descriptor version '1'"),
        (_changed(image, "fingerprint_version", 7), "fingerprint version 7, but this registry's is 2"),
        (_changed(image, "gray", None), "gray: expected an object with size and pixels"),
        (_changed(image, "gray.size", [image["gray"]["size"][0] + 1, image["gray"]["size"][1]]), "gray.size"),
        (_changed(image, "gray.pixels", _b64(7)), "gray.pixels: expected the base64"),
        (_changed(image, "version", 2), "gray: a version 3 field (this descriptor says version 2)"),
        (_changed(clip, "reframe.looks.frames.0.gray", image["gray"]),
         "reframe.looks.frames.0.gray: Extra inputs are not permitted"),
        (_changed(image, "format", "something.else"), "not a query descriptor"),
        (_changed(image, "kind", "audio"), "kind"),
        (_changed(image, "orb.plain.codes", "!" * len(image["orb"]["plain"]["codes"])), "not valid base64"),
        (_changed(image, "orb.plain.count", n - 1), f"expected the base64 of {(n - 1) * 32} bytes"),
        (_changed(image, "orb.mirror.angles", _b64(3)), "orb.mirror.angles"),
        (_changed(image, "orb.plain", too_many), "orb.plain.count"),
        (_changed(image, "orb.plain.points", base64.b64encode(b"\xff" * 8 * n).decode()),
         "keypoints must lie in the"),
        (_changed(image, "size", [0, 768]), "size"),
        (_changed(image, "size", [768, 768, 3]), "size"),
        (_changed(image, "retries", image["retries"][:1]), "retries"),
        (_changed(image, "retries.0.size", image["size"]), "retries[0].size: the frame has a long side of 512"),
        (_changed(image, "retries.1.orb.mirror.points", base64.b64encode(
            b"\xff" * 8 * image["retries"][1]["orb"]["mirror"]["count"]).decode()),
         "retries[1].orb.mirror.points: keypoints must lie in the"),
        (_changed(image, "phash", "xyz"), "phash"),
        (_changed(image, "variants", {"mirror": image["variants"]["mirror"]}), "variants"),
        (_changed(image, "extra", 1), "extra"),
        (_changed(image, "inset", {"phash": image["phash"]}), "inset"),
        (_changed(image, "inset", {"phash": image["phash"], "mirror": image["phash"],
                                   "size": image["retries"][0]["size"], "orb": image["orb"]}),
         "inset.size"),
        (_changed(clip, "frames.count", clip["frames"]["count"] + 1), "frames.timestamps: expected"),
        (frames(10, np.arange(10)[::-1] / 30), "strictly increasing"),
        (frames(10, np.full(10, np.nan)), "strictly increasing"),
        (frames(10, informative=2), "frames.informative: 1 or 0"),
        (_changed(clip, "frames.phashes", "AAAA"), "frames.phashes"),
        (frames(20_001), "frames.count"),
    ]
    for descriptor, words in cases:
        response = admin.post("/v1/checks/fingerprints", json={"descriptors": [descriptor]})
        assert response.status_code == 422, (words, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert words in response.json()["detail"], (words, response.json()["detail"])
    for body, words in (({"descriptors": [image], "phashes": [image["phash"]]}, "either"),
                        ({"descriptors": [clip], "timestamps": [0.0]}, "timestamps"),
                        ({"descriptors": []}, "descriptors"), ({"descriptors": [{}]}, "kind"),
                        ({"descriptors": [frames(5_000)] * 5}, "clip frames in all")):
        response = admin.post("/v1/lookups/fingerprints", json=body)
        assert response.status_code == 422, (words, response.text)
        assert words in response.json()["detail"], (words, response.json()["detail"])


def test_a_reframe_too_degraded_for_keypoints_is_found_as_a_crop_window(
        admin: Api, registered: dict, cli, tmp_path: Path,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A 9:16 reframe at the right edge of rocket.jpg (a third of it), shrunk to 72 x 128
    # and saved at JPEG quality 12: none of its keypoints fit the work, but the query is a
    # window of the registered picture (fingerprints/windows.py).
    rocket = Image.open(media.image("rocket.jpg")).convert("RGB")
    rocket.save(tmp_path / "rocket.png")
    stills = source(admin, [holder(admin, "NASA")["id"]], builtin_licence(admin, "CC0-1.0")["id"],
                    name="Stills")
    work = upload(admin, stills["id"], tmp_path / "rocket.png")["id"]
    w, h = rocket.size
    left = w - 10 - round(h * 9 / 16)
    copied = tmp_path / "vertical.jpg"
    rocket.crop((left, 0, w - 10, h)).resize((72, 128)).save(copied, format="JPEG", quality=12)
    uploaded = _upload(admin, copied, "/v1/checks")
    [item] = _send(admin, "/v1/checks/fingerprints", _fingerprint(cli, copied, tmp_path))["items"]
    assert item["verdict"] == uploaded["verdict"] == "copy"
    assert item["matches"] == uploaded["matches"]
    match = item["matches"][0]
    assert (match["asset_id"], match["channel"], match["mirrored"]) == (work, "crop_window", False)
    assert match["transform"]["rotation_deg"] == 0
    assert match["transform"]["tx"] == pytest.approx(left / w, abs=0.02)
    assert match["transform"]["scale"] == pytest.approx(h / w, abs=0.03)  # the query's long side
    assert match["coverage"] == pytest.approx(9 / 16 * h / w, abs=0.03)
    assert match["picture_agreement"] >= matching.WINDOW_CHANCE
    # A flat picture would correlate fully with the flat sky: it has nothing to compare.
    flat = tmp_path / "flat.png"
    Image.new("RGB", (72, 128), (150, 170, 190)).save(flat)
    assert _upload(admin, flat, "/v1/checks")["matches"] == []
    # Without the crop-window look the keypoints alone do not make it a copy.
    monkeypatch.setattr(matching, "WINDOW_CHANCE", 1.0)
    assert _upload(admin, copied, "/v1/checks")["verdict"] != "copy"
