"""Copyright-evidence, clearance and compensation reports, through the HTTP API and the CLI,
on real media: Big Buck Bunny (CC-BY) and a non-commercial still collection, a model trained
on both, and a generation that copies a span of the film."""

import base64
import csv
import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from registry.auditlog import merkle
from registry.reports.frames import THUMB_SIZE
from tests import media
from tests.conftest import Api
from tests.factories import holder, source, upload
from tests.worlds import clip_scene, jpeg, seeded

PERIOD = {"period_start": "2000-01-01", "period_end": "2100-12-31"}


scene = seeded(clip_scene)


def _get(api: Api, path: str, status: int = 200, **params: str):  # type: ignore[no-untyped-def]
    response = api.get(path, params=params)
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response


def _keys(api: Api, tmp_path: Path) -> Path:
    path = tmp_path / "registry-keys.json"
    path.write_bytes(api.client.get("/.well-known/registry-keys.json").content)
    return path


def _verify_offline(cli, api: Api, envelope: bytes, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """Verifies with ``registry verify-report``; returns its summary line."""
    keys = _keys(api, tmp_path)
    signed = tmp_path / "report.dsse.json"
    signed.write_bytes(envelope)
    ok = cli("verify-report", str(signed), "--key", str(keys))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("OK: signed by the registry: ")
    # Any byte change fails: inside the payload, the signature, or the payload type.
    data = json.loads(envelope)
    payload = bytearray(base64.b64decode(data["payload"]))
    payload[len(payload) // 2] ^= 0x01
    for tampered in ({**data, "payload": base64.b64encode(bytes(payload)).decode()},
                     {**data, "payloadType": data["payloadType"] + "x"},
                     {**data, "signatures": [{**data["signatures"][0],
                                              "sig": base64.b64encode(bytes(64)).decode()}]}):
        signed.write_text(json.dumps(tampered))
        bad = cli("verify-report", str(signed), "--key", str(keys))
        assert bad.exit_code == 1 and "INVALID" in bad.output
    raw = bytearray(envelope)
    at = raw.index(b'"payload": "') + 20
    raw[at] = ord("A") if raw[at] != ord("A") else ord("B")
    signed.write_bytes(bytes(raw))
    assert cli("verify-report", str(signed), "--key", str(keys)).exit_code == 1
    return ok.stdout


def _render(pdf: bytes, scale: float = 2.0) -> list[np.ndarray]:
    document = pdfium.PdfDocument(pdf)
    return [np.asarray(page.render(scale=scale).to_pil().convert("L")) for page in document]


def _appears(page: np.ndarray, image: Image.Image, scale: float = 2.0) -> float:
    """Best normalised correlation of ``image`` (drawn 75 mm wide) anywhere on the page."""
    thumb = image.convert("L")
    thumb.thumbnail(THUMB_SIZE)
    width = round(75 / 25.4 * 72 * scale)
    template = np.asarray(thumb.resize((width, round(width * thumb.height / thumb.width))))
    return float(cv2.matchTemplate(page, template, cv2.TM_CCOEFF_NORMED).max())


def test_copyright_evidence_in_every_format(admin: Api, scene: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gen_id = scene["generation"]["id"]
    report = _get(admin, f"/v1/reports/copyright-evidence/{gen_id}").json()
    assert report["report"] == "copyright_evidence" and report["generation"]["id"] == gen_id
    [match] = report["matches"]
    assert match["work"]["asset_id"] == scene["bunny"]["id"]
    assert match["work"]["holders"] == [{"id": scene["blender"]["id"], "name": "Blender Foundation"}]
    assert match["work"]["licence"]["identifier"] == "CC-BY-4.0"
    assert match["permitted"] == "conditional" and match["obligations"][0]["kind"] == "attribution"
    assert (match["channel"], match["coverage"], match["mirrored"]) == ("global_hash", 1.0, False)
    assert match["manifest_id"] == scene["model"]["training_sources"][0]["manifest_id"] \
        or match["manifest_id"] in {s["manifest_id"] for s in scene["model"]["training_sources"]}
    span = match["spans"][0]
    assert span["span"]["reference_start_s"] == pytest.approx(1.0 + span["span"]["query_start_s"], abs=0.15)
    for side in ("generated", "registered"):
        assert len(span[side]["png_sha256"]) == 64 and span[side]["width"] <= THUMB_SIZE[0]
    assert span["registered"]["media_sha256"] == scene["bunny"]["sha256"]
    for side in ("generated", "registered"):  # the cited PNGs, fetched by digest
        png = _get(admin, f"/v1/reports/copyright-evidence/{gen_id}/thumbnails/{span[side]['png_sha256']}")
        assert png.headers["content-type"] == "image/png"
        assert hashlib.sha256(png.content).hexdigest() == span[side]["png_sha256"]
        assert Image.open(io.BytesIO(png.content)).size == (span[side]["width"], span[side]["height"])
    _get(admin, f"/v1/reports/copyright-evidence/{gen_id}/thumbnails/{'0' * 64}", 404)
    # The log proofs lead to the checkpoint's root.
    roles = {p["role"] for p in report["proofs"]}
    assert roles == {"generation", "check", "manifest"}
    root = base64.b64decode(report["checkpoint"]["root"])
    for proof in report["proofs"]:
        payload = base64.b64decode(proof["payload"])
        assert json.loads(payload)["entity_id"] == proof["entity_id"]
        merkle.verify_inclusion(merkle.leaf_hash(payload), proof["idx"], report["checkpoint"]["size"],
                                [base64.b64decode(h) for h in proof["inclusion"]["proof"]], root)
    assert report["checkpoint"]["note"] == admin.client.get("/v1/log/checkpoint").text

    rows = list(csv.DictReader(io.StringIO(
        _get(admin, f"/v1/reports/copyright-evidence/{gen_id}", format="csv").text)))
    assert rows[0]["asset_id"] == scene["bunny"]["id"] and rows[0]["permitted"] == "conditional"
    assert rows[0]["registered_png_sha256"] == span["registered"]["png_sha256"]
    assert (rows[0]["channel"], rows[0]["coverage"], rows[0]["scale"]) == ("global_hash", "1.0", "")

    pdf = _get(admin, f"/v1/reports/copyright-evidence/{gen_id}", format="pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    pages = _render(pdf.content)
    assert (pages[0] < 200).mean() > 0.02, "the page is blank"
    # Span times are rounded to the millisecond: take the frame shown at (or just before) them.
    registered = media.frame_at(media.clip("bigbuckbunny.mp4"), span["registered"]["time_s"] - 1e-3)
    generated = media.frame_at(scene["copy"], span["generated"]["time_s"] - 1e-3)
    assert max(_appears(p, registered) for p in pages) > 0.9
    assert max(_appears(p, generated) for p in pages) > 0.9

    signed = _get(admin, f"/v1/reports/copyright-evidence/{gen_id}", format="dsse")
    assert signed.headers["content-type"] == "application/vnd.dsse.envelope.v1+json"
    envelope = signed.json()
    assert envelope["payloadType"] == "application/vnd.provenance-registry.report+json"
    assert json.loads(base64.b64decode(envelope["payload"]))["matches"] == report["matches"]
    _verify_offline(cli, admin, signed.content, tmp_path)


def test_evidence_shows_what_found_each_match(admin: Api, scene: dict) -> None:
    coffee = Image.open(media.image("coffee.png")).convert("RGB")
    w, h = coffee.size
    detail = jpeg(coffee.crop((w // 4, 0, w, h * 3 // 4)), quality=70)  # 75% a side
    check = admin.ok("post", "/v1/checks", 201, files=[("files", ("detail.jpg", detail))])
    generation = admin.ok("post", "/v1/generations", 201, json={
        "model_id": scene["model"]["id"], "production": "Elsewhere", "title": "Detail",
        "check_ids": [check["id"]]})
    path = f"/v1/reports/copyright-evidence/{generation['id']}"
    [match] = _get(admin, path).json()["matches"]
    assert match["work"]["asset_id"] == scene["coffee"]["id"] and match["channel"] == "local_features"
    move = match["transform"]
    assert move["scale"] == pytest.approx(0.75, abs=0.03) and move["tx"] == pytest.approx(0.25, abs=0.03)
    assert 0 < match["coverage"] <= 1 and match["inlier_cells"] > 5
    assert match["picture_agreement"] > 0.8  # the registered picture, placed by the fit, agrees
    [row] = csv.DictReader(io.StringIO(_get(admin, path, format="csv").text))
    assert (row["channel"], float(row["scale"]), float(row["coverage"]),
            float(row["picture_agreement"])) == (
        "local_features", move["scale"], match["coverage"], match["picture_agreement"])
    pdf = _get(admin, path, format="pdf").content
    text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert f"Found by local features spanning {match['coverage']:.0%} of the query" in text
    assert f"scale {move['scale']:.2f}" in text
    assert f"aligned pictures agree at {match['picture_agreement']:.2f}" in text


def test_fingerprint_only_check_shows_a_placeholder(admin: Api, scene: dict) -> None:
    times, hashes = media.frame_phashes(media.clip("bigbuckbunny.mp4"), 2.0, 4.0)
    check = admin.ok("post", "/v1/checks/fingerprints", 201, json={"phashes": hashes, "timestamps": times})
    generation = admin.ok("post", "/v1/generations", 201, json={
        "model_id": scene["model"]["id"], "production": "Elsewhere", "title": "Hashes only",
        "check_ids": [check["id"]]})
    report = _get(admin, f"/v1/reports/copyright-evidence/{generation['id']}").json()
    span = report["matches"][0]["spans"][0]
    assert span["generated"]["png_sha256"] is None and "not uploaded" in span["generated"]["note"]
    assert span["registered"]["png_sha256"] is not None
    pdf = _get(admin, f"/v1/reports/copyright-evidence/{generation['id']}", format="pdf").content
    text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert "not uploaded" in text


def test_clearance_lists_credits_and_blocks_commercial_release(admin: Api, scene: dict, cli,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    gen_id = scene["generation"]["id"]
    report = _get(admin, "/v1/reports/clearance", generation_id=gen_id).json()
    assert report["use"] == "commercial_release" and report["verdict"] == "blocked"
    assert [w["work"]["asset_id"] for w in report["works"]] == [scene["bunny"]["id"]]
    credit = ('"Open movies" 1 by Blender Foundation, licensed under Creative Commons '
              'Attribution 4.0 International')
    assert any(line.startswith(credit) for line in report["credits"])
    nc = [b for b in report["blockers"] if b["code"] == "non_commercial"]
    assert nc and all(b["basis"] == "training" and b["source_id"] == scene["stills"]["id"] for b in nc)
    assert not [b for b in report["blockers"] if b["source_id"] == scene["films"]["id"]]
    # For research the same generation is only conditional (credits, no blockers).
    research = _get(admin, "/v1/reports/clearance", generation_id=gen_id,
                    use="noncommercial_research").json()
    assert research["verdict"] == "conditional" and research["blockers"] == []
    # The whole production also draws on the non-commercial still: a work blocker too.
    production = _get(admin, "/v1/reports/clearance", production="Sintel Returns").json()
    assert {g["id"] for g in production["generations"]} == {gen_id, scene["poster"]["id"]}
    assert any(b["basis"] == "work" and b["asset_id"] == scene["coffee"]["id"]
               and b["code"] == "non_commercial" for b in production["blockers"])

    rows = list(csv.reader(io.StringIO(_get(admin, "/v1/reports/clearance", generation_id=gen_id,
                                            format="csv").text)))
    assert ["verdict", "blocked"] == rows[1][:2]
    assert any(r[0] == "credit" and r[1].startswith(credit) for r in rows)
    assert any(r[0] == "blocker" and r[7] == "non_commercial" for r in rows)
    pdf = _get(admin, "/v1/reports/clearance", generation_id=gen_id, format="pdf").content
    text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(pdf))
    assert "Blender Foundation" in text and "BLOCKED" in text and "non_commercial" in text
    assert (_render(pdf)[0] < 200).mean() > 0.01
    signed = _get(admin, "/v1/reports/clearance", generation_id=gen_id, on="2026-11-25", format="dsse")
    _verify_offline(cli, admin, signed.content, tmp_path)

    # A training opt-out on the still blocks it as a work and as training data, from its date.
    admin.ok("post", "/v1/opt-outs", 201, json={
        "holder_id": scene["archive"]["id"], "sha256": scene["coffee"]["sha256"],
        "effective_from": "2026-06-01T00:00:00Z"})
    after = _get(admin, "/v1/reports/clearance", production="Sintel Returns", on="2026-11-25",
                 use="noncommercial_research").json()
    opted = {(b["basis"], b["asset_id"]) for b in after["blockers"] if b["code"] == "opted_out"}
    assert opted == {("work", scene["coffee"]["id"]), ("training", scene["coffee"]["id"])}
    before = _get(admin, "/v1/reports/clearance", production="Sintel Returns", on="2026-05-31",
                  use="noncommercial_research").json()
    assert before["verdict"] == "conditional" and before["blockers"] == []


def _statement(api: Api, model_id: str, status: int = 200, **params: str):  # type: ignore[no-untyped-def]
    return _get(api, "/v1/reports/compensation", status, model_id=model_id,
                **{**PERIOD, "pool": "10000.00", "currency": "EUR", **params})


def test_compensation_adds_up_exactly_and_is_reproducible(admin: Api, scene: dict, cli,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    model_id = scene["model"]["id"]
    statement = _statement(admin, model_id).json()
    lines = {line["holder_id"]: line for line in statement["lines"]}
    assert set(lines) == {scene["blender"]["id"], scene["archive"]["id"], scene["painter"]["id"]}
    amounts = [Decimal(line["amount"]) for line in statement["lines"]]
    assert sum(amounts) == Decimal("10000.00") == Decimal(statement["distributed"])
    assert all(a == a.quantize(Decimal("0.01")) for a in amounts)
    # 80 % training by weight 3:1; the stills split 2:1 (archive's two, the painter's own one);
    # 20 % matches: the film (Blender) and the coffee still (archive), one work each.
    assert statement["sources"][0]["normalised_weight"] in {"3/4", "1/4"}
    blender, archive, painter = (lines[scene[k]["id"]] for k in ("blender", "archive", "painter"))
    assert blender["share"] == "7/10" and blender["amount"] == "7000.00"
    # Rounded down to 9999.99; the cent left goes to the largest remainder (0.666… > 0.333…).
    assert archive["share"] == "7/30" and archive["amount"] == "2333.33"
    assert painter["share"] == "1/15" and painter["amount"] == "666.67"
    assert archive["matches"] == "1" and painter["matches"] == "0"

    # Same inputs, same bytes, in every format.
    for fmt in ("json", "csv", "pdf", "dsse"):
        first = _statement(admin, model_id, format=fmt).content
        assert _statement(admin, model_id, format=fmt).content == first, fmt
    csv_rows = list(csv.DictReader(io.StringIO(_statement(admin, model_id, format="csv").text)))
    assert csv_rows[-1]["holder_id"] == "TOTAL" and csv_rows[-1]["amount"] == "10000.00"
    assert sum(Decimal(r["amount"]) for r in csv_rows[:-1]) == Decimal("10000.00")
    pdf = _statement(admin, model_id, format="pdf").content
    text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert "10000.00 EUR" in text and "Stills Archive" in text
    summary = _verify_offline(cli, admin, _statement(admin, model_id, format="dsse").content, tmp_path)
    assert "10000.00 of 10000.00 EUR over 3 line(s)" in summary

    # A period without matches folds the match share into training.
    quiet = _statement(admin, model_id, period_start="2001-01-01", period_end="2001-12-31").json()
    assert quiet["formula"]["effective_match_share"] == "0"
    assert {line["holder_id"]: line["share"] for line in quiet["lines"]} == {
        scene["blender"]["id"]: "3/4", scene["archive"]["id"]: "1/6", scene["painter"]["id"]: "1/12"}
    assert sum(Decimal(line["amount"]) for line in quiet["lines"]) == Decimal("10000.00")
    # Configurable: all to matches, counted in spans; yen have no minor unit.
    yen = _statement(admin, model_id, pool="1000001", currency="JPY", training_share="0",
                     match_basis="spans").json()
    assert sum(Decimal(line["amount"]) for line in yen["lines"]) == Decimal("1000001")
    assert all("." not in line["amount"] for line in yen["lines"])


def test_bad_input(admin: Api, scene: dict) -> None:
    model_id = scene["model"]["id"]
    _statement(admin, "mdl_unknown", 404)
    _get(admin, "/v1/reports/copyright-evidence/gen_unknown", 404)
    _get(admin, "/v1/reports/clearance", 404, generation_id="gen_unknown")
    _get(admin, "/v1/reports/clearance", 404, production="No such film")
    _get(admin, "/v1/reports/clearance", 422)
    _get(admin, "/v1/reports/clearance", 422, generation_id=scene["generation"]["id"],
         production="Sintel Returns")
    _get(admin, "/v1/reports/clearance", 422, generation_id=scene["generation"]["id"], format="docx")
    _statement(admin, model_id, 422, period_start="2026-12-01", period_end="2026-11-01")
    _statement(admin, model_id, 422, period_start="yesterday")
    for pool in ("0", "-5", "10.001", "abc", "NaN", "Infinity"):
        _statement(admin, model_id, 422, pool=pool)
    _statement(admin, model_id, 422, pool="10.5", currency="JPY")
    _statement(admin, model_id, 422, currency="EURO")
    _statement(admin, model_id, 422, currency="ZZZ")
    _statement(admin, model_id, 422, training_share="1.5")
    assert _statement(admin, model_id, period_start="0001-01-01", period_end="9999-12-31").json()["lines"]
    response = admin.get("/v1/reports/compensation", params={"model_id": model_id, **PERIOD})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_roles_and_scope(admin: Api, curator: Api, auditor: Api, scene: dict) -> None:
    gen_id, model_id = scene["generation"]["id"], scene["model"]["id"]
    blender = admin.make_key("rights_holder", scene["blender"]["id"])
    archive = admin.make_key("rights_holder", scene["archive"]["id"])
    for api in (admin, curator, auditor):
        _get(api, f"/v1/reports/copyright-evidence/{gen_id}")
        _get(api, "/v1/reports/clearance", generation_id=gen_id)
        assert len(_statement(api, model_id).json()["lines"]) == 3
    # A rights holder: evidence only for generations matching its works, and only those matches.
    own = _get(blender, f"/v1/reports/copyright-evidence/{gen_id}").json()
    assert [m["work"]["asset_id"] for m in own["matches"]] == [scene["bunny"]["id"]]
    _get(archive, f"/v1/reports/copyright-evidence/{gen_id}", 404)
    cited = own["matches"][0]["spans"][0]["registered"]["png_sha256"]
    _get(blender, f"/v1/reports/copyright-evidence/{gen_id}/thumbnails/{cited}")
    _get(archive, f"/v1/reports/copyright-evidence/{gen_id}/thumbnails/{cited}", 404)
    poster = _get(archive, f"/v1/reports/copyright-evidence/{scene['poster']['id']}").json()
    assert {m["work"]["asset_id"] for m in poster["matches"]} == {scene["coffee"]["id"]}
    _get(blender, f"/v1/reports/copyright-evidence/{scene['poster']['id']}", 404)
    # Clearance is for the production side; holders may not ask for it.
    _get(blender, "/v1/reports/clearance", 403, generation_id=gen_id)
    # Compensation: the totals and its own line only.
    mine = _statement(archive, model_id).json()
    assert [line["holder_id"] for line in mine["lines"]] == [scene["archive"]["id"]]
    assert mine["line_count"] == 3 and mine["distributed"] == "10000.00"
    assert mine["lines"][0] == {line["holder_id"]: line for line in
                                _statement(admin, model_id).json()["lines"]}[scene["archive"]["id"]]
    # Without a key: 401 everywhere.
    for path, params in ((f"/v1/reports/copyright-evidence/{gen_id}", {}),
                         ("/v1/reports/clearance", {"generation_id": gen_id}),
                         ("/v1/reports/compensation", {"model_id": model_id, **PERIOD, "pool": "1.00"})):
        assert admin.client.get(path, params=params).status_code == 401


def test_clearance_fees_and_expiry_from_training_licence(admin: Api) -> None:
    studio = holder(admin, "=HYPERLINK(\"http://x\")")  # a hostile name, for the CSV
    licence = admin.ok("post", "/v1/licences", 201, json={
        "identifier": "LicenseRef-Stock-Footage", "name": "Stock footage licence",
        "commercial_use": True, "derivatives": True, "attribution_required": False,
        "ai_training": "allowed", "valid_until": "2026-06-30", "fee_flat": "500.00",
        "royalty_rate": "0.02", "currency": "EUR"})
    stock = source(admin, [studio["id"]], licence["id"], name="Stock footage")
    upload(admin, stock["id"], media.image("chelsea.png"))
    admin.ok("post", f"/v1/sources/{stock['id']}/manifests", 201)
    model = admin.ok("post", "/v1/models", 201, json={
        "name": "StockGen", "version": "2", "owner": "Ad Agency", "trained_until": "2026-01-31",
        "training_sources": [{"source_id": stock["id"], "weight": "1"}]})
    admin.ok("post", "/v1/generations", 201, json={
        "model_id": model["id"], "production": "Ad spot", "title": "Opening"})
    during = _get(admin, "/v1/reports/clearance", production="Ad spot", on="2026-03-01").json()
    assert during["verdict"] == "conditional" and during["credits"] == [] and during["works"] == []
    assert {(f["kind"], f["amount"], f["currency"], f["basis"]) for f in during["fees"]} == {
        ("flat_fee", "500.00", "EUR", "training"), ("royalty", "0.020000", "EUR", "training")}
    after = _get(admin, "/v1/reports/clearance", production="Ad spot", on="2026-07-01").json()
    assert after["verdict"] == "blocked"
    assert [b["code"] for b in after["blockers"]] == ["expired"]
    # One holder, no matches: the whole pool to it, to the cent.
    whole = _statement(admin, model["id"], pool="1234.56").json()
    assert [(line["holder_id"], line["share"], line["amount"]) for line in whole["lines"]] == [
        (studio["id"], "1", "1234.56")]
    [row] = [r for r in csv.DictReader(io.StringIO(_statement(
        admin, model["id"], pool="1234.56", format="csv").text)) if r["holder_id"] == studio["id"]]
    assert row["holder_name"] == "'=HYPERLINK(\"http://x\")" and row["amount"] == "1234.56"
