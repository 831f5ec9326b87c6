"""Benchmark the check-job path on a long synthetic 720p film; prints a Markdown table.

    .venv/bin/python scripts/bench_jobs.py                 # a 3-minute film
    .venv/bin/python scripts/bench_jobs.py --minutes 1     # quick run

The film is synthesised with PyAV: bigbuckbunny.mp4's 132 frames (1280x720, 25 fps),
played forwards then backwards over and over, encoded with libx264 (CRF 23, preset
veryfast: CABAC and B-frames, like a real film). Synthesising it is not measured. The
registry (SQLite, a temporary data directory) has bigbuckbunny.mp4 registered, so every
few seconds of the film copies it and the matching has work to do. The job goes through
the real path: POST /v1/check-jobs, a ``Worker`` claims it, decodes with progress
heartbeats, matches, records the check. The time for a 90-minute film is extrapolated
linearly from the measured frames/s (decoding and matching both grow linearly with the
number of frames).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
from fastapi.testclient import TestClient
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.checkjobs.worker import Worker  # noqa: E402
from registry.cli import app as cli_app  # noqa: E402
from registry.core.config import Settings  # noqa: E402
from registry.main import create_app  # noqa: E402
from scripts.bench_fingerprints import clip_path  # noqa: E402

FPS = 25


def synthesise(dst: Path, minutes: float) -> int:
    with av.open(str(clip_path("bigbuckbunny.mp4"))) as src:
        frames = [f.to_ndarray(format="yuv420p") for f in src.decode(video=0)]
    cycle = frames + frames[-2:0:-1]
    total = int(minutes * 60 * FPS)
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"crf": "23", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for i in range(total):
            frame = av.VideoFrame.from_ndarray(cycle[i % len(cycle)], format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the synthetic film")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        film = root / "film.mp4"
        t0 = time.perf_counter()
        n = synthesise(film, args.minutes)
        print(f"synthesised {n} frames ({args.minutes:g} min) in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        settings = Settings(environment="test", data_dir=root / "data", job_workers=0,
                            database_url=f"sqlite:///{root / 'registry.db'}")
        env = {"REGISTRY_DATABASE_URL": settings.effective_database_url,
               "REGISTRY_DATA_DIR": str(settings.data_dir), "REGISTRY_ENVIRONMENT": "test"}
        runner = CliRunner()
        assert runner.invoke(cli_app, ["db", "upgrade"], env=env).exit_code == 0
        key = runner.invoke(cli_app, ["keys", "create", "--name", "bench"], env=env).stdout.split()[-1]
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(settings)) as client:
            def post(path: str, **kw):  # type: ignore[no-untyped-def]
                response = client.post(path, headers=headers, **kw)
                assert response.status_code in (201, 202), response.text
                return response.json()

            holder = post("/v1/holders", json={"name": "Blender", "kind": "organisation"})
            licence = client.get("/v1/licences", headers=headers,
                                 params={"identifier": "CC-BY-4.0"}).json()["items"][0]
            source = post("/v1/sources", json={
                "name": "Films", "version": "1", "media_types": ["video/mp4"],
                "holder_ids": [holder["id"]], "licence_id": licence["id"],
                "acquisition_method": "open_licence"})
            reference = clip_path("bigbuckbunny.mp4")
            post(f"/v1/sources/{source['id']}/assets",
                 files={"file": (reference.name, reference.read_bytes())})

            t0 = time.perf_counter()
            with film.open("rb") as fh:
                job = post("/v1/check-jobs", files={"file": ("film.mp4", fh)})
            submitted = time.perf_counter() - t0
            state = client.app.state
            worker = Worker(state.engine, settings, state.blobs, state.index.caught_up, name="bench")
            t0 = time.perf_counter()
            assert worker.run_once()
            worked = time.perf_counter() - t0
            done = client.get(f"/v1/check-jobs/{job['id']}", headers=headers).json()
            assert done["state"] == "succeeded", done
            check = client.get(f"/v1/checks/{done['result']}", headers=headers).json()
    frames = done["progress"]["frames_done"]
    spans = sum(len(m["spans"]) for m in check["items"][0]["matches"])
    rate = frames / worked
    film_90 = 90 * 60 * 24  # a 24 fps feature
    print(f"| check job, {args.minutes:g}-minute 720p H.264 film ({frames:,} frames) | value |")
    print("|---|---:|")
    print(f"| upload + stage (POST /v1/check-jobs) | {submitted:.1f} s |")
    print(f"| claim, decode + hash, match, record | {worked:.1f} s |")
    print(f"| frames/s, end to end | {rate:.0f} |")
    print(f"| verdict, aligned spans found | {check['verdict']}, {spans} |")
    print(f"| extrapolated: 90-minute 24 fps film ({film_90:,} frames) | "
          f"{(film_90 / rate + submitted * film_90 / frames) / 60:.1f} min |")


if __name__ == "__main__":
    main()
