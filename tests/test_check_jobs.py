"""Check jobs: long clips checked in the background by workers that share one database.

Workers are driven step by step here (claim, work, a crash, a race) through the same
``Worker`` the API's threads and ``registry worker`` run; one test lets the app's own
thread do it. An "over-long" clip is a real sample film with the sync limit set low.
"""

import io
import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from registry.checkjobs.worker import Worker
from registry.core.config import Settings
from registry.core.models import utcnow
from registry.main import create_app
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload
from tests.portal import sign_in

FILM = media.clip("bigbuckbunny.mp4")  # 5.28 s, 132 frames, 1280x720


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.job_workers = 0  # tests drive the workers themselves
    return settings


@pytest.fixture
def film(admin: Api) -> dict:
    blender = holder(admin, "Blender Foundation")
    films = source(admin, [blender["id"]], builtin_licence(admin, "CC-BY-4.0")["id"], name="Films")
    return upload(admin, films["id"], FILM)


def _submit(api: Api, path: Path, status: int = 202) -> dict:
    response = api.post("/v1/check-jobs", files={"file": (path.name, path.read_bytes())})
    assert response.status_code == status, response.text
    if status == 202:
        assert response.headers["location"] == f"/v1/check-jobs/{response.json()['id']}"
    return response.json()


def _worker(api: Api, name: str, **kw) -> Worker:  # type: ignore[no-untyped-def]
    state = api.client.app.state
    return Worker(state.engine, state.settings, state.blobs, state.index.caught_up, name=name, **kw)


def _actions(api: Api, entity_id: str) -> list[str]:
    entries = api.ok("get", "/v1/log/entries", params={"entity_id": entity_id, "limit": 100})
    return [e["action"] for e in entries["items"]]


def _problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/" + slug) and body["status"] == status
    return body


def test_clip_job_runs_to_the_same_check_as_the_synchronous_endpoint(admin: Api, film: dict,
                                                                      cli) -> None:  # type: ignore[no-untyped-def]
    job = _submit(admin, FILM)
    assert job["state"] == "queued" and job["result"] is None and job["started_at"] is None
    assert job["progress"] == {"frames_done": 0, "frames_total": 132, "seconds_done": 0.0,
                               "seconds_total": 5.28}

    worker = _worker(admin, "worker-1")
    assert worker.claim_next() == job["id"]
    running = admin.ok("get", f"/v1/check-jobs/{job['id']}")
    assert running["state"] == "running" and running["attempts"] == 1 and running["started_at"]

    beats: list[tuple[int, float]] = []
    heartbeat = worker.heartbeat
    worker.heartbeat = lambda job_id, f, s: (beats.append((f, s)), heartbeat(job_id, f, s))[1]
    worker.work(job["id"])
    done = admin.ok("get", f"/v1/check-jobs/{job['id']}")
    assert done["state"] == "succeeded" and done["finished_at"] and done["error"] is None
    assert done["progress"] == {"frames_done": 132, "frames_total": 132, "seconds_done": 5.28,
                                "seconds_total": 5.28}
    # Progress was reported while decoding, never backwards, and reached the total.
    assert beats[0] == (0, 0.0) and beats[-1][0] == 132 and len(beats) >= 2
    assert beats == sorted(beats)

    stored = admin.ok("get", f"/v1/checks/{done['result']}")
    response = admin.post("/v1/checks", files=[("files", (FILM.name, FILM.read_bytes()))])
    assert response.status_code == 201, response.text
    sync = response.json()
    assert stored["kind"] == sync["kind"] == "clip"
    assert stored["verdict"] == sync["verdict"] == "copy"
    assert stored["items"] == sync["items"]
    assert stored["items"][0]["matches"][0]["asset_id"] == film["id"]

    assert _actions(admin, job["id"]) == ["check_job.created", "check_job.started",
                                          "check_job.finished"]
    assert _actions(admin, done["result"]) == ["check.recorded"]
    assert worker.run_once() is False
    # Leases and progress are bookkeeping outside the log; the replay still agrees.
    result = cli("verify-log")
    assert result.exit_code == 0, result.output


def test_images_run_as_jobs_and_curators_see_their_own(admin: Api, curator: Api, auditor: Api,
                                                       film: dict) -> None:
    still = media.frame_at(FILM, 2.0)
    path = Path(admin.client.app.state.settings.data_dir) / "frame.png"
    still.save(path)
    mine = _submit(curator, path)
    assert mine["media_type"] == "image/png"
    theirs = _submit(admin, FILM)
    worker = _worker(admin, "worker-1")
    assert worker.run_once() and worker.run_once() and not worker.run_once()

    job = curator.ok("get", f"/v1/check-jobs/{mine['id']}")
    assert job["state"] == "succeeded" and job["progress"]["frames_done"] == 1
    check = curator.ok("get", f"/v1/checks/{job['result']}")
    assert check["kind"] == "image" and check["verdict"] == "copy"
    assert [m["via"] for m in check["items"][0]["matches"]] == ["frame"]

    assert [j["id"] for j in curator.ok("get", "/v1/check-jobs")["items"]] == [mine["id"]]
    assert [j["id"] for j in auditor.ok("get", "/v1/check-jobs")["items"]] == [mine["id"], theirs["id"]]
    page = admin.ok("get", "/v1/check-jobs", params={"limit": 1, "state": "succeeded"})
    assert [j["id"] for j in page["items"]] == [mine["id"]] and page["next_cursor"]
    _problem(curator.get(f"/v1/check-jobs/{theirs['id']}"), 404, "not-found")
    _problem(curator.post(f"/v1/check-jobs/{theirs['id']}/cancel"), 404, "not-found")
    assert auditor.ok("get", f"/v1/check-jobs/{theirs['id']}")["state"] == "succeeded"


def test_cancel_a_queued_and_a_running_job(admin: Api, film: dict) -> None:
    queued = _submit(admin, FILM)
    cancelled = admin.ok("post", f"/v1/check-jobs/{queued['id']}/cancel")
    assert cancelled["state"] == "cancelled" and cancelled["finished_at"]
    body = _problem(admin.post(f"/v1/check-jobs/{queued['id']}/cancel"), 409, "conflict")
    assert "already finished (cancelled)" in body["detail"]
    worker = _worker(admin, "worker-1")
    assert worker.run_once() is False  # a cancelled job is never started

    running = _submit(admin, FILM)
    assert worker.claim_next() == running["id"]
    flagged = admin.ok("post", f"/v1/check-jobs/{running['id']}/cancel")
    assert flagged["state"] == "running" and flagged["cancel_requested"] is True
    worker.work(running["id"])  # stops at its first progress report
    job = admin.ok("get", f"/v1/check-jobs/{running['id']}")
    assert job["state"] == "cancelled" and job["result"] is None
    assert job["progress"]["frames_done"] < 132
    _problem(admin.post(f"/v1/check-jobs/{running['id']}/cancel"), 409, "conflict")
    assert _actions(admin, running["id"]) == ["check_job.created", "check_job.started",
                                              "check_job.cancel_requested", "check_job.finished"]
    assert _actions(admin, queued["id"]) == ["check_job.created", "check_job.finished"]


def test_a_crashed_workers_job_is_taken_over_and_finishes_once(admin: Api, film: dict,
                                                                settings: Settings) -> None:
    job = _submit(admin, FILM)
    crashed = _worker(admin, "crashed")
    assert crashed.claim_next() == job["id"]
    crashed.heartbeat(job["id"], 64, 2.56)  # ... and then the process died mid-clip
    assert admin.ok("get", f"/v1/check-jobs/{job['id']}")["progress"]["frames_done"] == 64

    assert _worker(admin, "early").claim_next() is None  # the lease still holds
    later = _worker(admin, "later", clock=lambda: utcnow() + timedelta(
        seconds=settings.job_lease_seconds + 1))
    assert later.run_once() is True
    done = admin.ok("get", f"/v1/check-jobs/{job['id']}")
    assert done["state"] == "succeeded" and done["attempts"] == 2

    crashed.work(job["id"])  # the old worker wakes up: it no longer owns the job
    assert admin.ok("get", f"/v1/check-jobs/{job['id']}") == done
    checks = [e for e in admin.ok("get", "/v1/log/entries", params={"limit": 200})["items"]
              if e["action"] == "check.recorded"]
    assert [e["entity_id"] for e in checks] == [done["result"]]
    assert _actions(admin, job["id"]) == ["check_job.created", "check_job.started",
                                          "check_job.started", "check_job.finished"]


def test_a_worker_shut_down_mid_job_puts_it_back_in_the_queue(admin: Api, film: dict) -> None:
    job = _submit(admin, FILM)
    stopping = _worker(admin, "stopping")
    assert stopping.claim_next() == job["id"]
    stopping.stop.set()  # what WorkerPool.stop does at shutdown
    stopping.work(job["id"])
    back = admin.ok("get", f"/v1/check-jobs/{job['id']}")
    assert back["state"] == "queued" and back["attempts"] == 1 and back["result"] is None
    assert _worker(admin, "next").run_once()
    assert admin.ok("get", f"/v1/check-jobs/{job['id']}")["state"] == "succeeded"
    assert _actions(admin, job["id"]) == ["check_job.created", "check_job.started",
                                          "check_job.requeued", "check_job.started",
                                          "check_job.finished"]


def test_two_workers_racing_for_one_job_one_wins(admin: Api, film: dict) -> None:
    jobs = [_submit(admin, FILM)["id"] for _ in range(3)]
    workers = [_worker(admin, "left"), _worker(admin, "right")]
    for job_id in jobs:
        start, won = threading.Barrier(2), []

        def claim(worker: Worker, start: threading.Barrier = start, job_id: str = job_id,
                  won: list[str] = won) -> None:
            start.wait()
            if worker.claim(job_id):
                won.append(worker.name)

        threads = [threading.Thread(target=claim, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
        assert admin.ok("get", f"/v1/check-jobs/{job_id}")["attempts"] == 1
    assert all(w.claim_next() is None for w in workers)


def test_synchronous_check_refuses_an_overlong_clip(admin: Api, film: dict) -> None:
    admin.client.app.state.settings.sync_clip_max_seconds = 2
    response = admin.post("/v1/checks", files=[("files", (FILM.name, FILM.read_bytes()))])
    body = _problem(response, 413, "clip-too-long-for-sync-check")
    assert "lasts 5.3 s, over the 2 s" in body["detail"] and "/v1/check-jobs" in body["detail"]
    assert body["check_jobs"] == "/v1/check-jobs"
    image = media.image("astronaut.png")
    admin.ok("post", "/v1/checks", 201, files=[("files", (image.name, image.read_bytes()))])
    _submit(admin, FILM)  # the job path takes it


def test_bad_input(admin: Api, auditor: Api, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a film\n" * 100)
    _problem(admin.post("/v1/check-jobs", files={"file": ("notes.mp4", text.read_bytes())}),
             415, "unsupported-media")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(FILM.read_bytes()[:40_000])
    _problem(admin.post("/v1/check-jobs", files={"file": ("t.mp4", truncated.read_bytes())}),
             422, "invalid-media")
    _problem(admin.post("/v1/check-jobs"), 422, "invalid-input")
    _problem(admin.get("/v1/check-jobs/job_nope"), 404, "not-found")
    _problem(admin.get("/v1/check-jobs/" + "x" * 300), 404, "not-found")
    _problem(admin.post("/v1/check-jobs/job_nope/cancel"), 404, "not-found")
    _problem(auditor.post("/v1/check-jobs", files={"file": (FILM.name, FILM.read_bytes())}),
             403, "forbidden")
    assert admin.ok("get", "/v1/check-jobs")["items"] == []


def test_a_job_that_fails_says_why(admin: Api, film: dict, tmp_path: Path) -> None:
    # Container intact, half the coded frames zeroed: only decoding finds out.
    data = FILM.read_bytes()
    n = len(data)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(data[:n // 4] + bytes(n // 2) + data[n // 4 + n // 2:])
    job = _submit(admin, damaged)
    _worker(admin, "worker-1").run_once()
    failed = admin.ok("get", f"/v1/check-jobs/{job['id']}")
    assert failed["state"] == "failed" and failed["result"] is None
    assert failed["error"].startswith("Invalid media: ")
    assert not admin.client.app.state.blobs.exists(job["sha256"])  # no check keeps it


def test_a_job_that_ends_without_a_check_lets_its_file_go(admin: Api, film: dict) -> None:
    """A cancelled check job's upload (queued or running) leaves the blob store, as a failed
    one's does (above); a succeeded job's stays with its check, and so does a registered
    work's file, whatever becomes of a job sent the same content."""
    blobs = admin.client.app.state.blobs
    worker = _worker(admin, "worker-1")
    other = media.clip("bikes.mp4")  # never registered: the job's upload stores it
    queued = _submit(admin, other)
    assert blobs.exists(queued["sha256"])
    admin.ok("post", f"/v1/check-jobs/{queued['id']}/cancel")
    assert not blobs.exists(queued["sha256"])

    running = _submit(admin, other)
    assert worker.claim_next() == running["id"]
    admin.ok("post", f"/v1/check-jobs/{running['id']}/cancel")
    worker.work(running["id"])
    assert admin.ok("get", f"/v1/check-jobs/{running['id']}")["state"] == "cancelled"
    assert not blobs.exists(running["sha256"])

    registered = _submit(admin, FILM)
    admin.ok("post", f"/v1/check-jobs/{registered['id']}/cancel")
    assert blobs.exists(film["sha256"])

    kept = _submit(admin, other)
    worker.run_once()
    assert admin.ok("get", f"/v1/check-jobs/{kept['id']}")["state"] == "succeeded"
    assert blobs.exists(kept["sha256"])
    picture = media.image("coffee.png")
    cancelled = _submit(admin, picture)  # stores it; a check made meanwhile then keeps it
    response = admin.post("/v1/checks", files=[("files", (picture.name, picture.read_bytes()))])
    assert response.status_code == 201, response.text
    admin.ok("post", f"/v1/check-jobs/{cancelled['id']}/cancel")
    assert blobs.exists(cancelled["sha256"])


def test_the_apps_worker_thread_and_registry_worker(settings: Settings, cli) -> None:  # type: ignore[no-untyped-def]
    settings.job_workers = 1
    result = cli("keys", "create", "--name", "first admin")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        admin = Api(client, result.stdout.strip().splitlines()[-1])
        job = _submit(admin, FILM)
        for _ in range(600):  # a wait, not a timing assertion
            state = admin.ok("get", f"/v1/check-jobs/{job['id']}")["state"]
            if state not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert state == "succeeded"
        client.app.state.jobs.stop()  # as at shutdown; now a separate process works the queue
        queued = _submit(admin, FILM)
        result = cli("worker", "--drain")
        assert result.exit_code == 0, result.output
        assert "1 check job(s) worked" in result.output
        assert admin.ok("get", f"/v1/check-jobs/{queued['id']}")["state"] == "succeeded"


def test_registry_check_cli(admin: Api, film: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", str(FILM), "--key-name", "cli-test")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("copy: bigbuckbunny.mp4")
    assert film["id"] in result.stdout and "Films 1 (CC-BY-4.0), via clip" in result.stdout
    assert "; global hash of the whole frame" in result.stdout
    result = cli("check", str(FILM), "--json")
    assert result.exit_code == 0, result.output
    check = json.loads(result.stdout)
    assert check["verdict"] == "copy" and check["requested_by"].startswith("cli:")
    assert admin.ok("get", f"/v1/checks/{check['id']}")["items"] == check["items"]
    text = tmp_path / "notes.txt"
    text.write_text("not media")
    result = cli("check", str(text))
    assert result.exit_code == 2
    assert "error: the file is not a recognised image or video" in result.output


def test_a_reframed_clip_is_found_through_a_job_as_synchronously(admin: Api, film: dict,
                                                                  tmp_path: Path) -> None:
    vertical = media.make_variant(FILM, tmp_path / "vertical.mp4", start=1.0, duration=2.5,
                                  window=lambda u: (0.35, 0.0, 0.35 + 9 / 16 * 9 / 16, 1.0))
    job = _submit(admin, vertical)
    worker = _worker(admin, "worker-1")
    assert worker.claim_next() == job["id"]
    worker.work(job["id"])
    done = admin.ok("get", f"/v1/check-jobs/{job['id']}")
    assert done["state"] == "succeeded", done
    stored = admin.ok("get", f"/v1/checks/{done['result']}")
    response = admin.post("/v1/checks", files=[("files", (vertical.name, vertical.read_bytes()))])
    assert response.status_code == 201, response.text
    assert stored["items"] == response.json()["items"]
    [match] = stored["items"][0]["matches"]
    assert (match["asset_id"], match["channel"], match["verdict"]) == (film["id"], "local_features", "copy")
    assert match["spans"][0]["offset_s"] == pytest.approx(1.0, abs=0.04)


def test_backfill_refingerprints_clips_stored_before_keyframes(admin: Api, film: dict, cli, settings,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    """A clip registered before VIDEO_FORMAT_VERSION 3 has no keyframes, so its reframed
    copies are not found; `registry index backfill` fingerprints it again, and they are."""
    engine = sa.create_engine(settings.effective_database_url)
    with engine.begin() as conn:  # as an older registry stored it: no grids, no keyframes
        data = conn.execute(sa.text("SELECT data FROM fingerprint_set WHERE asset_id = :a"),
                            {"a": film["id"]}).scalar_one()
        with np.load(io.BytesIO(bytes(data))) as arrays:
            kept = {k: arrays[k] for k in arrays.files if k != "grid" and not k.startswith("kf_")}
        old = io.BytesIO()
        np.savez_compressed(old, **kept)
        conn.execute(sa.text("UPDATE fingerprint_set SET data = :d, version = 2 WHERE asset_id = :a"),
                     {"d": old.getvalue(), "a": film["id"]})
    engine.dispose()
    vertical = media.make_variant(FILM, tmp_path / "vertical.mp4", start=1.0, duration=2.5,
                                  window=lambda u: (0.35, 0.0, 0.35 + 9 / 16 * 9 / 16, 1.0))

    def check(api: Api) -> dict:
        response = api.post("/v1/checks", files=[("files", (vertical.name, vertical.read_bytes()))])
        assert response.status_code == 201, response.text
        return response.json()["items"][0]

    with TestClient(create_app(settings)) as before:
        assert check(Api(before, admin.key))["matches"] == []
    result = cli("index", "backfill")
    assert result.exit_code == 0, result.output
    assert "0 asset(s) could not be fingerprinted" in result.output
    with TestClient(create_app(settings)) as after:
        matches = check(Api(after, admin.key))["matches"]
    assert matches and matches[0]["asset_id"] == film["id"]
    assert cli("index", "backfill").exit_code == 0  # nothing left to do


def test_cancelling_a_queued_lookup_lets_its_file_go(admin: Api, film: dict) -> None:
    """A rights holder's long look-up, cancelled before any worker took it: its file goes
    as it would after the answer (a look-up keeps nothing of the work it was shown)."""
    admin.client.app.state.settings.sync_clip_max_seconds = 2.0  # a 10 s film is "long"
    owner = holder(admin, "Looking holder")["id"]
    browser = TestClient(admin.client.app)
    token = sign_in(browser, admin.make_key("rights_holder", owner).key)
    work = media.clip("bikes.mp4")  # never registered: the look-up's upload owns its blob
    sent = browser.post("/lookup", data={"csrf_token": token}, follow_redirects=False,
                        files={"work": (work.name, work.read_bytes(), "video/mp4")})
    assert sent.status_code == 303, sent.text
    job_id = sent.headers["location"].rsplit("/", 1)[1]
    job = admin.ok("get", f"/v1/check-jobs/{job_id}")
    assert job["purpose"] == "lookup" and job["state"] == "queued"
    blobs = admin.client.app.state.blobs
    assert blobs.exists(job["sha256"])
    assert admin.ok("post", f"/v1/check-jobs/{job_id}/cancel")["state"] == "cancelled"
    assert not blobs.exists(job["sha256"])
    assert blobs.exists(film["sha256"])  # a registered work's file stays, whatever is cancelled
