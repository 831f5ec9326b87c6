import fcntl
import hashlib
import io
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from registry.main import create_app
from tests import media
from tests.conftest import Api
from tests.factories import at_once, builtin_licence, holder, source, upload


@pytest.fixture
def films(admin: Api) -> dict:
    blender = holder(admin, "Blender Foundation")
    return source(admin, [blender["id"]], builtin_licence(admin, "CC-BY-4.0")["id"])


def _stored_blobs(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    root = settings.effective_blob_dir
    return [p for p in root.rglob("*") if p.is_file()]


def test_upload_image_and_clip(admin: Api, films: dict, settings) -> None:  # type: ignore[no-untyped-def]
    still = upload(admin, films["id"], media.image("astronaut.png"),
                   original_uri="https://example.org/astronaut.png")
    assert still["media_type"] == "image/png"
    assert (still["width"], still["height"]) == (512, 512)
    assert still["sha256"] == hashlib.sha256(media.image("astronaut.png").read_bytes()).hexdigest()

    clip = upload(admin, films["id"], media.clip("bigbuckbunny.mp4"))
    assert clip["media_type"] == "video/mp4"
    assert (clip["width"], clip["height"], clip["frame_count"]) == (1280, 720, 132)
    assert clip["duration_s"] == pytest.approx(5.28, abs=0.1)

    content = admin.get(f"/v1/assets/{clip['id']}/content")
    assert content.status_code == 200
    assert hashlib.sha256(content.content).hexdigest() == clip["sha256"]
    assert content.headers["repr-digest"].startswith("sha-256=:")
    assert admin.ok("get", f"/v1/sources/{films['id']}")["asset_count"] == 2

    videos = admin.ok("get", "/v1/assets", params={"media_type": "video/mp4"})["items"]
    assert [a["id"] for a in videos] == [clip["id"]]
    by_hash = admin.ok("get", "/v1/assets", params={"sha256": still["sha256"]})["items"]
    assert [a["id"] for a in by_hash] == [still["id"]]
    assert len(_stored_blobs(settings)) == 2


def test_same_content_twice_in_a_source_is_a_conflict(admin: Api, films: dict) -> None:
    first = upload(admin, films["id"], media.image("camera.png"))
    again = upload(admin, films["id"], media.image("camera.png"), status=409)
    assert again["existing_asset_id"] == first["id"]
    assert again["type"].endswith("/problems/duplicate-asset")
    # Sent at the same time, the same content is registered once; the others name it.
    png = media.image("coffee.png").read_bytes()
    responses = at_once([lambda: admin.post(f"/v1/sources/{films['id']}/assets",
                                             files={"file": ("coffee.png", png)})] * 4)
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    assert {r.json()["existing_asset_id"] for r in responses if r.status_code == 409} == {winner}


def test_asset_level_holder_and_licence(admin: Api, films: dict) -> None:
    photographer = holder(admin, "NASA")
    cc0 = builtin_licence(admin, "CC0-1.0")
    asset = upload(admin, films["id"], media.image("rocket.jpg"),
                   holder_id=photographer["id"], licence_id=cc0["id"])
    assert (asset["holder_id"], asset["licence_id"]) == (photographer["id"], cc0["id"])
    assert asset["media_type"] == "image/jpeg"
    listed = admin.ok("get", "/v1/assets", params={"licence_id": cc0["id"]})["items"]
    assert [a["id"] for a in listed] == [asset["id"]]
    retired = admin.ok("post", f"/v1/assets/{asset['id']}/retire", json={"reason": "takedown"})
    assert retired["retired_at"]
    assert admin.ok("get", "/v1/assets", params={"retired": "false"})["items"] == []


def _assert_nothing_left(admin: Api, films: dict, settings) -> None:  # type: ignore[no-untyped-def]
    assert admin.ok("get", "/v1/assets", params={"source_id": films["id"]})["items"] == []
    assert _stored_blobs(settings) == []


@pytest.mark.parametrize("name,payload,status,words", [
    ("notes.txt", b"just some text, not media\n" * 20, 415, "not a recognised image or video"),
    ("empty.png", b"", 422, "empty"),
    ("truncated.png", media.image("astronaut.png").read_bytes()[:30_000], 422, "truncated"),
    ("truncated.jpg", media.image("rocket.jpg").read_bytes()[:8_000], 422, "truncated"),
    ("truncated.mp4", media.clip("bikes.mp4").read_bytes()[:150_000], 422, "truncated"),
    ("header-only.mp4", media.clip("bikes.mp4").read_bytes()[:2_000], 422, "truncated"),
])
def test_bad_media_is_refused_and_leaves_nothing(admin: Api, films: dict, settings, name: str,  # type: ignore[no-untyped-def]
                                                 payload: bytes, status: int, words: str) -> None:
    response = admin.post(f"/v1/sources/{films['id']}/assets", files={"file": (name, payload)})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
    _assert_nothing_left(admin, films, settings)


def test_decompression_bomb_is_refused(admin: Api, films: dict, settings) -> None:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    # 20000 x 20000 of one colour compresses to a few hundred KB but decodes to 400 Mpx.
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG")
    response = admin.post(f"/v1/sources/{films['id']}/assets",
                          files={"file": ("bomb.png", buffer.getvalue())})
    assert response.status_code == 422
    assert "decompression bomb" in response.json()["detail"]
    _assert_nothing_left(admin, films, settings)


def test_oversize_and_truncated_uploads(admin: Api, films: dict, settings) -> None:  # type: ignore[no-untyped-def]
    admin.client.app.state.settings.max_upload_bytes = 100_000
    big = media.clip("bigbuckbunny.mp4").read_bytes()
    response = admin.post(f"/v1/sources/{films['id']}/assets", files={"file": ("big.mp4", big)})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    # A multipart body cut off before its closing boundary.
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + media.image("camera.png").read_bytes()[:5000])
    cut = admin.client.post(f"/v1/sources/{films['id']}/assets", content=body, headers={
        **admin.headers, "Content-Type": "multipart/form-data; boundary=XyZ"})
    assert cut.status_code in (400, 422)
    assert cut.headers["content-type"] == "application/problem+json"
    _assert_nothing_left(admin, films, settings)
    staging = settings.effective_blob_dir / ".staging"
    assert list(staging.iterdir()) == []


def test_retired_source_takes_no_uploads(admin: Api, films: dict) -> None:
    admin.ok("post", f"/v1/sources/{films['id']}/retire", json={"reason": "frozen"})
    response = upload(admin, films["id"], media.image("coins.png"), status=409)
    assert "retired" in response["detail"]


def test_repeated_file_parts_are_refused_not_dropped(admin: Api, films: dict, settings) -> None:  # type: ignore[no-untyped-def]
    png = media.image("camera.png").read_bytes()
    parts = [("file", (f"frame{n}.png", png)) for n in range(500)]
    response = admin.post(f"/v1/sources/{films['id']}/assets", files=parts)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "one 'file' part; the request has 500" in response.json()["detail"]
    _assert_nothing_left(admin, films, settings)
    jobs = admin.post("/v1/check-jobs", files=parts[:2])
    assert jobs.status_code == 422 and "has 2" in jobs.json()["detail"]


def test_uploads_left_by_a_killed_process_are_removed_at_start(admin: Api, settings) -> None:  # type: ignore[no-untyped-def]
    staging = settings.effective_blob_dir / ".staging"
    orphan, live, fresh = (staging / f"upload-{name}" for name in ("orphan", "live", "fresh"))
    for path in (orphan, live, fresh):
        path.write_bytes(b"partial upload")
    holds = settings.effective_blob_dir / ".holds"  # an upload's hold on a stored blob
    holds.mkdir(parents=True, exist_ok=True)
    dead_hold = holds / f"{'0' * 64}.orphan"
    dead_hold.write_bytes(b"")
    for path in (orphan, live, dead_hold):  # written to last an hour ago
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime - 3600))
    holder_fd = os.open(live, os.O_RDONLY)  # another process's upload in progress
    fcntl.flock(holder_fd, fcntl.LOCK_EX)
    try:
        with TestClient(create_app(settings)) as restarted:
            assert restarted.get("/v1/log/checkpoint").status_code == 200
        assert sorted(p.name for p in staging.iterdir()) == ["upload-fresh", "upload-live"]
        assert list(holds.iterdir()) == []
    finally:
        os.close(holder_fd)
