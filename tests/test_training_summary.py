"""The AI Act training-content summary of a model, through the HTTP API and the CLI: sources
by the template's categories (a crawled one with its domains), sizes in the template's
ranges, the provider statement's versions and audit entries, and every output format."""

import base64
import hashlib
import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload

STATEMENT = {"summary_version": "1.0", "provider_name": "Example Studio",
             "provider_contact": "ai-office@example.org", "placed_on_market": "2026-11-15",
             "model_dependencies": "Fine-tuned from OpenFrames 2.0 (summary: https://openframes.example/summary)",
             "modalities": ["image", "video"], "content_types": "Films, animation, photography",
             "languages": ["en", "nl"], "code_of_practice_signatory": True,
             "tdm_measures": "ExampleBot honours robots.txt and TDMRep.",
             "illegal_content": "Hash lists of known illegal material were applied before training."}
HEADINGS = ["1. General information", "1.1 Provider identification", "1.2 Model identification",
            "1.3 Modalities, overall training data size and other characteristics",
            "2. List of data sources", "2.1 Publicly available datasets",
            "2.2.1 Datasets commercially licensed by rightsholders", "2.2.2 Private datasets obtained from other",
            "2.3 Data crawled and scraped from online sources", "2.4 User data", "2.5 Synthetic data",
            "2.6 Other sources of data", "3. Data processing aspects", "3.1 Respect of reservation of rights",
            "3.2 Removal of illegal content", "3.3 Other information"]


@pytest.fixture
def trained(admin: Api) -> dict:
    """A model trained on a public dataset (an image and a clip), a licensed image, and a
    crawl of four images from three domains, each source pinned by a signed manifest."""
    blender = holder(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    public = source(admin, [blender["id"]], cc_by, name="Open movies", acquired_on="2026-02-01")
    licensed = source(admin, [blender["id"]], cc_by, name="Studio stills", acquisition_method="licensed",
                      acquired_on="2026-03-01")
    crawl = source(admin, [blender["id"]], cc_by, name="Web crawl", acquisition_method="web_crawl",
                   crawler={"name": "ExampleBot", "purpose": "image training data"},
                   collection_period={"start": "2026-01-01", "end": "2026-04-30"},
                   opt_out_signals=[{"signal": "robots_txt", "reserved": False},
                                    {"signal": "tdmrep", "reserved": True, "detail": "tdm-reservation: 1"}])
    assert (public["category"], licensed["category"], crawl["category"]) == (
        "public_dataset", "licensed_from_rights_holders", "crawled")
    upload(admin, public["id"], media.image("camera.png"))
    upload(admin, public["id"], media.clip("bigbuckbunny.mp4"))
    upload(admin, licensed["id"], media.image("coins.png"))
    for name, uri in (("moon.png", "https://www.films.example/a.png"), ("horse.png", "https://films.example/b"),
                      ("page.png", "https://stills.example/c"), ("text.png", "http://other.example/d")):
        upload(admin, crawl["id"], media.image(name), original_uri=uri)
    for s in (public, licensed, crawl):
        admin.ok("post", f"/v1/sources/{s['id']}/manifests", 201)
    model = admin.ok("post", "/v1/models", 201, json={
        "name": "DreamFrames", "version": "1.0", "owner": "Example Studio", "trained_until": "2026-10-31",
        "training_sources": [{"source_id": s["id"], "weight": "1"} for s in (public, licensed, crawl)]})
    return {"model": model, "public": public, "licensed": licensed, "crawl": crawl}


def _size(name: str) -> int:
    return media.image(name).stat().st_size


def test_source_categories_default_and_crawl_fields_only_for_crawled(admin: Api) -> None:
    blender = holder(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    base = {"name": "x", "version": "1", "media_types": ["image/png"], "holder_ids": [blender["id"]],
            "licence_id": cc_by, "acquisition_method": "internal"}
    assert admin.ok("post", "/v1/sources", 201, json=base)["category"] == "other"
    synthetic = admin.ok("post", "/v1/sources", 201, json={**base, "version": "2", "category": "synthetic"})
    assert synthetic["category"] == "synthetic" and synthetic["crawler"] is None
    refused = admin.post("/v1/sources", json={**base, "version": "3", "crawler": {"name": "Bot"}})
    assert refused.status_code == 422 and "crawled" in refused.text
    bad_period = admin.post("/v1/sources", json={**base, "version": "4", "category": "crawled",
                                                 "collection_period": {"start": "2026-02-01", "end": "2026-01-01"}})
    assert bad_period.status_code == 422
    changed = admin.ok("patch", f"/v1/sources/{synthetic['id']}", json={
        "category": "crawled", "crawler": {"name": "Bot", "purpose": "p"}})
    assert changed["category"] == "crawled" and changed["crawler"] == {"name": "Bot", "purpose": "p"}
    back = admin.patch(f"/v1/sources/{synthetic['id']}", json={"category": "user_data"})
    assert back.status_code == 422 and "crawled" in back.json()["detail"]
    assert admin.patch(f"/v1/sources/{synthetic['id']}", json={"category": None}).status_code == 422


def test_statement_is_versioned_and_audited(admin: Api, curator: Api, auditor: Api, trained: dict) -> None:
    model_id = trained["model"]["id"]
    path = f"/v1/models/{model_id}/training-summary/statement"
    assert curator.get(path).status_code == 409
    created = curator.client.put(path, json=STATEMENT, headers=curator.headers)
    assert created.status_code == 201 and created.headers["ETag"] == '"v1"'
    assert created.json()["summary_version"] == "1.0" and created.json()["placed_on_market"] == "2026-11-15"
    stale = curator.client.put(path, json={**STATEMENT, "summary_version": "1.1"},
                               headers={**curator.headers, "If-Match": '"v0"'})
    assert stale.status_code == 412
    updated = curator.client.put(path, json={**STATEMENT, "summary_version": "1.1"},
                                 headers={**curator.headers, "If-Match": '"v1"'})
    assert updated.status_code == 200 and updated.headers["ETag"] == '"v2"'
    read = auditor.get(path)
    assert read.json()["summary_version"] == "1.1" and read.headers["ETag"] == '"v2"'
    entries = admin.ok("get", "/v1/log/entries", params={"entity_id": created.json()["id"]})["items"]
    assert [e["action"] for e in entries] == ["training_summary_statement.created",
                                              "training_summary_statement.updated"]
    bad = curator.client.put(path, json={**STATEMENT, "modalities": ["smell"]}, headers=curator.headers)
    assert bad.status_code == 422
    assert curator.client.put("/v1/models/mdl_nope/training-summary/statement", json=STATEMENT,
                              headers=curator.headers).status_code == 404


def test_summary_computed_from_the_pinned_sources(admin: Api, trained: dict) -> None:
    model_id = trained["model"]["id"]
    assert admin.get(f"/v1/models/{model_id}/training-summary").status_code == 409  # no statement yet
    admin.put(f"/v1/models/{model_id}/training-summary/statement", json=STATEMENT)
    # Added after the manifests were signed: not in the versions the model was trained on.
    upload(admin, trained["public"]["id"], media.image("coffee.png"))
    summary = admin.ok("get", f"/v1/models/{model_id}/training-summary")
    assert summary["report"] == "training_content_summary" and summary["summary_version"] == "1.0"
    assert "C(2025) 5235" in summary["template"]
    general = summary["general"]
    assert general["provider"]["name"] == "Example Studio"
    assert general["model"]["placed_on_market"] == "2026-11-15"
    assert general["model"]["dependencies"].startswith("Fine-tuned from OpenFrames 2.0")
    assert (general["content_types"], general["languages"]) == ("Films, animation, photography", ["en", "nl"])
    assert summary["processing"]["code_of_practice_signatory"] is True
    sizes = {m["modality"]: m for m in general["modalities"]}
    assert (sizes["image"]["assets"], sizes["image"]["amount"], sizes["image"]["size_bin"]) == (
        6, 6.0, "less than 1 million images")
    assert sizes["video"]["assets"] == 1 and 0 < sizes["video"]["amount"] < 0.01
    assert sizes["video"]["size_bin"] == "less than 10,000 hours" and sizes["video"]["unit"] == "hours"
    assert not sizes["text"]["used"] and sizes["text"]["size_bin"] is None
    assert general["latest_acquisition"] == "2026-04-30"  # the crawl's end
    sources = summary["sources"]
    [public] = sources["public_datasets"]
    assert (public["source_id"], public["assets"], public["modalities"]) == (
        trained["public"]["id"], 2, ["image", "video"])
    assert public["licences"][0]["identifier"] == "CC-BY-4.0" and public["holders"] == ["Blender Foundation"]
    assert [s["source_id"] for s in sources["licensed_from_rights_holders"]] == [trained["licensed"]["id"]]
    assert sources["private_third_party"] == [] and sources["user_data"]["sources"] == []
    crawled = sources["crawled"]
    assert crawled["crawlers"] == [{"name": "ExampleBot", "purpose": "image training data"}]
    assert crawled["collection_period"] == {"start": "2026-01-01", "end": "2026-04-30"}
    # films.example (www. dropped) holds two images: by content size it leads; 3 domains -> top 1 (10%).
    assert crawled["domain_count"] == 3
    assert crawled["top_domains"] == [{"domain": "films.example", "assets": 2,
                                       "bytes": _size("moon.png") + _size("horse.png")}]
    [evidence] = [e for e in summary["processing"]["tdm_evidence"] if e["source_id"] == trained["crawl"]["id"]]
    assert evidence["protocols_checked"] == ["robots_txt", "tdmrep"] and evidence["reserved_by"] == ["tdmrep"]
    assert summary["processing"]["illegal_content"].startswith("Hash lists")


def test_summary_cites_registry_opt_outs_and_sme_domain_rule(admin: Api, trained: dict) -> None:
    model_id = trained["model"]["id"]
    admin.client.put(f"/v1/models/{model_id}/training-summary/statement", json={**STATEMENT, "sme": True},
                     headers=admin.headers)
    digest = hashlib.sha256(media.image("coins.png").read_bytes()).hexdigest()
    opt_out = admin.ok("post", "/v1/opt-outs", 201, json={
        "holder_id": trained["licensed"]["holder_ids"][0], "sha256": digest, "effective_from": "2026-05-01T00:00:00Z"})
    summary = admin.ok("get", f"/v1/models/{model_id}/training-summary")
    [evidence] = [e for e in summary["processing"]["tdm_evidence"] if e["source_id"] == trained["licensed"]["id"]]
    [work] = evidence["opted_out_works"]
    assert (work["opt_out_id"], work["matched_by"]) == (opt_out["id"], "sha256")
    crawled = summary["sources"]["crawled"]
    assert "5%" in crawled["top_domains_rule"] and len(crawled["top_domains"]) == 1


def test_summary_cites_recorded_signal_snapshots(admin: Api, trained: dict) -> None:
    model_id = trained["model"]["id"]
    admin.put(f"/v1/models/{model_id}/training-summary/statement", json=STATEMENT)
    crawl = trained["crawl"]["id"]
    snapshot = admin.ok("post", f"/v1/sources/{crawl}/signals", 201, json={
        "kind": "http_headers", "url": "https://films.example/moon.png", "observed_at": "2026-02-01T10:00:00Z",
        "headers": [["tdm-reservation", "1"]]})
    summary = admin.ok("get", f"/v1/models/{model_id}/training-summary")
    [evidence] = [e for e in summary["processing"]["tdm_evidence"] if e["source_id"] == crawl]
    assert evidence["protocols_checked"] == ["http_headers", "robots_txt", "tdmrep"]
    assert evidence["reserved_by"] == ["http_headers", "tdmrep"]
    [cited] = evidence["signal_snapshots"]
    assert (cited["snapshot_id"], cited["term"], cited["sha256"]) == (snapshot["id"], "not_allowed", snapshot["sha256"])
    markdown = admin.get(f"/v1/models/{model_id}/training-summary?format=md").text
    assert "https://films.example/moon.png" in markdown and snapshot["sha256"] in markdown


def test_outputs_json_dsse_pdf_markdown(admin: Api, auditor: Api, trained: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model_id = trained["model"]["id"]
    admin.put(f"/v1/models/{model_id}/training-summary/statement", json=STATEMENT)
    path = f"/v1/models/{model_id}/training-summary"
    document = auditor.ok("get", path)
    signed = auditor.get(path, params={"format": "dsse"})
    assert signed.status_code == 200 and signed.headers["content-type"] == "application/vnd.dsse.envelope.v1+json"
    keys = tmp_path / "registry-keys.json"
    keys.write_bytes(admin.client.get("/.well-known/registry-keys.json").content)
    envelope = tmp_path / "summary.dsse.json"
    envelope.write_bytes(signed.content)
    ok = cli("verify-report", str(envelope), "--key", str(keys))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith(f"OK: signed by the registry: training-content summary of model {model_id} "
                                "(DreamFrames 1.0), version 1.0, last update ")
    payload = json.loads(base64.b64decode(json.loads(signed.content)["payload"]))
    assert payload == document
    tampered = json.loads(signed.content)
    tampered["payload"] = base64.b64encode(json.dumps({**payload, "summary_version": "9"}).encode()).decode()
    envelope.write_text(json.dumps(tampered))
    assert cli("verify-report", str(envelope), "--key", str(keys)).exit_code == 1

    pdf = auditor.get(path, params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == auditor.get(path, params={"format": "pdf"}).content  # same records, same bytes
    text = " ".join(" ".join(page.get_textpage().get_text_range().split()) for page in pdfium.PdfDocument(pdf.content))
    positions = [text.find(h) for h in HEADINGS]
    assert -1 not in positions, [h for h, p in zip(HEADINGS, positions, strict=True) if p == -1]
    assert positions == sorted(positions)  # in the template's order
    assert "Version of the summary 1.0" in text and f"Last update {document['last_update']}" in text
    assert "films.example" in text and "ExampleBot" in text

    md = auditor.get(path, params={"format": "md"})
    assert md.headers["content-type"].startswith("text/markdown")
    markdown = md.text
    assert markdown.startswith("# Public Summary of Training Content: DreamFrames 1.0")
    assert "- **Version of the summary:** 1.0" in markdown
    assert f"- **Last update:** {document['last_update']}" in markdown
    assert "### 2.3 Data crawled and scraped from online sources" in markdown
    assert "| films.example |" in markdown
    assert "- **Languages:** en, nl" in markdown and "- **Signatory of the Code of Practice:** yes" in markdown


def test_refusals_and_unknown_model(admin: Api, curator: Api, auditor: Api, trained: dict) -> None:
    model_id = trained["model"]["id"]
    path = f"/v1/models/{model_id}/training-summary"
    holder_key = admin.make_key("rights_holder", trained["public"]["holder_ids"][0])
    assert auditor.client.put(f"{path}/statement", json=STATEMENT, headers=auditor.headers).status_code == 403
    assert holder_key.client.put(f"{path}/statement", json=STATEMENT,
                                 headers=holder_key.headers).status_code == 403
    curator.client.put(f"{path}/statement", json=STATEMENT, headers=curator.headers)
    assert holder_key.get(path).status_code == 403
    assert holder_key.get(f"{path}/statement").status_code == 200  # read as models are read
    assert admin.get("/v1/models/mdl_nope/training-summary").status_code == 404
    assert admin.get("/v1/models/mdl_nope/training-summary/statement").status_code == 404
    assert admin.get(path, params={"format": "docx"}).status_code == 422
