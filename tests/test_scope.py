"""A rights holder's key over another holder's records: models' training mixes and
compensation statements show only the sources it may read (registry/access.py), in every
format."""

import base64
import json

import pypdfium2 as pdfium

from tests.conftest import Api
from tests.worlds import scope_world, seeded

PERIOD = {"period_start": "2026-01-01", "period_end": "2026-12-31", "pool": "1000.00"}


registry = seeded(scope_world)


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
