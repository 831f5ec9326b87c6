"""``registry ingest``: bulk registration through the CLI, checked through the HTTP API."""

import hashlib
import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from PIL import Image

from registry.assets import ingest
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source

IMAGES = ["astronaut.png", "camera.png", "coffee.png", "rocket.jpg"]


@pytest.fixture
def films(admin: Api) -> dict:
    blender = holder(admin, "Blender Foundation")
    return source(admin, [blender["id"]], builtin_licence(admin, "CC-BY-4.0")["id"])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "incoming"
    (root / "stills").mkdir(parents=True)
    (root / "clips").mkdir()
    for name in IMAGES:
        shutil.copyfile(media.image(name), root / "stills" / name)
    shutil.copyfile(media.clip("bikes.mp4"), root / "clips" / "bikes.mp4")
    (root / "notes.txt").write_text("shot list, not media\n")
    png = media.image("chelsea.png").read_bytes()
    (root / "stills" / "broken.png").write_bytes(png[: len(png) // 2])
    # Hidden files and folders are not part of the ingest.
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / ".thumbnails").mkdir()
    shutil.copyfile(media.image("moon.png"), root / ".thumbnails" / "moon.png")
    return root


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assets(admin: Api, source_id: str) -> list[dict]:
    return admin.ok("get", "/v1/assets", params={"source_id": source_id, "limit": 100})["items"]


def test_ingest_registers_resumes_and_reports_failures(admin: Api, films: dict, folder: Path,
                                                       cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first = cli("ingest", str(folder), "--source", films["id"], "--workers", "2",
                "--key-name", "ingest-test", "--json")
    assert first.exit_code == 1, first.output
    report = json.loads(first.stdout)
    assert (report["total"], report["registered"], report["skipped"], report["failed"]) == (7, 5, 0, 2)
    assert not report["interrupted"] and report["not_processed"] == 0
    # The reasons are the registry's own, as the upload API gives them.
    reasons = {f["file"]: f["reason"] for f in report["failures"]}
    assert list(reasons) == ["notes.txt", "stills/broken.png"]
    for name, reason in reasons.items():
        with (folder / name).open("rb") as fh:
            refused = admin.post(f"/v1/sources/{films['id']}/assets", files={"file": (name, fh)})
        assert refused.status_code in (413, 415, 422)
        assert refused.json()["detail"] == reason

    assets = _assets(admin, films["id"])
    expected = [folder / "stills" / n for n in IMAGES] + [folder / "clips" / "bikes.mp4"]
    assert sorted(a["sha256"] for a in assets) == sorted(_sha256(p) for p in expected)
    assert sorted(a["media_type"] for a in assets) == ["image/jpeg"] + ["image/png"] * 3 + ["video/mp4"]
    # Each registration is in the audit log, attributed to the person who ran the CLI.
    entries = admin.ok("get", "/v1/log/entries", params={"key": "cli:ingest-test", "limit": 100})
    assert sorted(e["entity_id"] for e in entries["items"]) == sorted(a["id"] for a in assets)
    assert {e["action"] for e in entries["items"]} == {"asset.registered"}

    # Re-running registers nothing new; without a terminal it logs a line per N files.
    monkeypatch.setattr(ingest, "LOG_EVERY", 3)
    again = cli("ingest", str(folder), "--source", films["id"], "--workers", "2")
    assert again.exit_code == 1, again.output
    assert "0 registered, 5 skipped (already present), 2 failed" in again.stdout
    assert "notes.txt" in again.stdout and "broken.png" in again.stdout
    assert "3/7 files" in again.stderr and "6/7 files" in again.stderr
    assert len(_assets(admin, films["id"])) == 5

    # A new file is the only one registered; the run is attributed to the OS user by default.
    shutil.copyfile(media.image("grass.png"), folder / "stills" / "grass.png")
    (folder / "notes.txt").unlink()
    (folder / "stills" / "broken.png").unlink()
    third = cli("ingest", str(folder), "--source", films["id"], "--workers", "2", "--json")
    assert third.exit_code == 0, third.output
    assert {k: json.loads(third.stdout)[k] for k in ("registered", "skipped", "failed")} == \
        {"registered": 1, "skipped": 5, "failed": 0}
    assert len(_assets(admin, films["id"])) == 6
    mine = admin.ok("get", "/v1/log/entries", params={"key": ingest.cli_actor().key_id})["items"]
    assert [e["entity_id"] for e in mine] == [a["id"] for a in _assets(admin, films["id"])
                                              if a["sha256"] == _sha256(media.image("grass.png"))]
    assert cli("verify-log").exit_code == 0


def test_ingest_refuses_an_unknown_or_retired_source(admin: Api, films: dict, folder: Path,
                                                     cli) -> None:  # type: ignore[no-untyped-def]
    unknown = cli("ingest", str(folder), "--source", "src_doesnotexist")
    assert unknown.exit_code == 2
    assert "source src_doesnotexist does not exist" in unknown.stderr

    no_holder = cli("ingest", str(folder), "--source", films["id"], "--holder-id", "rh_nobody")
    assert no_holder.exit_code == 2
    assert "rights holder rh_nobody does not exist" in no_holder.stderr

    admin.ok("post", f"/v1/sources/{films['id']}/retire", json={"reason": "superseded by v2"})
    retired = cli("ingest", str(folder), "--source", films["id"])
    assert retired.exit_code == 2
    assert "is retired" in retired.stderr
    assert _assets(admin, films["id"]) == []


def test_interrupted_ingest_leaves_whole_assets_and_resumes(admin: Api, films: dict, tmp_path: Path,
                                                            cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "frames"
    root.mkdir()
    for n in range(10):
        Image.new("RGB", (64, 48), (n * 25, 255 - n * 25, (n * 70) % 256)).save(root / f"f{n:02}.png")
    shutil.copyfile(root / "f00.png", root / "f00-copy.png")  # same content twice in one run

    # Ctrl-C after the second file: queued files are cancelled, running ones finish.
    advance = ingest.Reporter.advance
    def interrupt_after_two(self, summary, outcome):  # type: ignore[no-untyped-def]
        advance(self, summary, outcome)
        if summary.done == 2:
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(ingest.Reporter, "advance", interrupt_after_two)
    stopped = cli("ingest", str(root), "--source", films["id"], "--workers", "1", "--json")
    monkeypatch.undo()

    assert stopped.exit_code == 130, stopped.output
    report = json.loads(stopped.stdout)
    assert report["interrupted"] and report["failed"] == 0
    assert 0 < report["not_processed"] and report["registered"] + report["skipped"] < 11
    assert len(_assets(admin, films["id"])) == report["registered"]
    assert cli("verify-log").exit_code == 0

    resumed = cli("ingest", str(root), "--source", films["id"], "--workers", "2", "--json")
    assert resumed.exit_code == 0, resumed.output
    rest = json.loads(resumed.stdout)
    assert (rest["registered"] + rest["skipped"], rest["failed"]) == (11, 0)
    assert report["registered"] + rest["registered"] == 10
    assert len(_assets(admin, films["id"])) == 10
