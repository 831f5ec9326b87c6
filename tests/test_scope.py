"""A rights holder's key over another holder's records: models' training mixes and
compensation statements show only the sources it may read (registry/access.py), in every
format."""

import base64
import json

import pypdfium2 as pdfium
import pytest

from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload

PERIOD = {"period_start": "2026-01-01", "period_end": "2026-12-31", "pool": "1000.00"}


@pytest.fixture
def registry(admin: Api) -> dict:
    """Ann and Bob each hold a source; one model trained on both."""
    ann, bob = holder(admin, "Ann Films"), holder(admin, "Bob Pictures")
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    ann_src = source(admin, [ann["id"]], cc_by, name="Ann stills")
    bob_src = source(admin, [bob["id"]], cc_by, name="Bob secret library")
    upload(admin, ann_src["id"], media.image("coffee.png"))
    upload(admin, bob_src["id"], media.image("chelsea.png"))
    manifests = [admin.ok("post", f"/v1/sources/{s['id']}/manifests", 201) for s in (ann_src, bob_src)]
    model = admin.ok("post", "/v1/models", 201, json={
        "name": "Dreamreel", "version": "1", "owner": "Studio X", "trained_until": "2026-10-01",
        "training_sources": [{"source_id": ann_src["id"], "weight": "0.5"},
                             {"source_id": bob_src["id"], "weight": "0.5"}]})
    bob_link = next(s for s in model["training_sources"] if s["source_id"] == bob_src["id"])
    return {"ann": ann, "ann_src": ann_src, "bob_src": bob_src, "model": model,
            "bob_secrets": [bob_src["id"], "Bob secret library", manifests[1]["id"],
                            bob_link["manifest_sha256"]],
            "ann_key": admin.make_key("rights_holder", ann["id"])}


def _leaks(text: str, registry: dict) -> list[str]:
    """What of Bob's source a text gives away."""
    return [s for s in registry["bob_secrets"] if s in text]


def test_models_show_a_rights_holder_only_the_sources_it_may_read(admin: Api, registry: dict) -> None:
    ann, model = registry["ann_key"], registry["model"]
    assert {s["source_id"] for s in admin.ok("get", f"/v1/models/{model['id']}")["training_sources"]} == {
        registry["ann_src"]["id"], registry["bob_src"]["id"]}
    seen = ann.ok("get", f"/v1/models/{model['id']}")
    assert [s["source_id"] for s in seen["training_sources"]] == [registry["ann_src"]["id"]]
    listed = ann.get("/v1/models")
    assert listed.status_code == 200 and not _leaks(listed.text, registry)
    # Bob's source as a filter is as unknown as a made-up id; Ann's own finds the model.
    assert ann.ok("get", "/v1/models", params={"source_id": registry["bob_src"]["id"]})["items"] == []
    assert [m["id"] for m in ann.ok("get", "/v1/models", params={"source_id": registry["ann_src"]["id"]})[
        "items"]] == [model["id"]]
    assert not _leaks(ann.get(f"/v1/models/{model['id']}").text, registry)


def test_compensation_statement_shows_a_rights_holder_its_sources_only(admin: Api, registry: dict) -> None:
    ann, model_id = registry["ann_key"], registry["model"]["id"]
    params = {"model_id": model_id, **PERIOD}
    full = admin.ok("get", "/v1/reports/compensation", params=params)
    assert {s["source_id"] for s in full["sources"]} == {registry["ann_src"]["id"], registry["bob_src"]["id"]}
    own = ann.ok("get", "/v1/reports/compensation", params=params)
    assert [s["source_id"] for s in own["sources"]] == [registry["ann_src"]["id"]]
    assert [line["holder_id"] for line in own["lines"]] == [registry["ann"]["id"]]
    for fmt in ("json", "csv", "dsse"):
        response = ann.get("/v1/reports/compensation", params={**params, "format": fmt})
        assert response.status_code == 200, response.text
        text = response.text
        if fmt == "dsse":
            text = base64.b64decode(json.loads(text)["payload"]).decode()
        assert not _leaks(text, registry), fmt
    pdf = ann.get("/v1/reports/compensation", params={**params, "format": "pdf"})
    document = pdfium.PdfDocument(pdf.content)
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    assert "Ann stills" in text and not _leaks(text, registry)
