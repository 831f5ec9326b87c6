"""Interchange documents through the HTTP API: Croissant validated by mlcroissant, SPDX 3 read
back by the official SPDX bindings and parsed as JSON-LD under the SPDX 3.0.1 context, the
Hugging Face dataset card's front matter by PyYAML."""

import hashlib
import io
import json
from pathlib import Path

import mlcroissant as mlc
import yaml
from rdflib import RDF, Namespace
from spdx_python_model import v3_0_1 as spdx

from tests import media, spdx_jsonld
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload
from tests.worlds import seeded, sign

STUDIO_TERMS = {"identifier": "LicenseRef-Studio-Terms-2026", "name": "Studio terms 2026",
                "url": "https://studio.example/terms", "commercial_use": True, "derivatives": True,
                "attribution_required": True, "ai_training": "constrained",
                "ai_training_constraint": "in-house models only", "territory": ["WORLDWIDE"]}


def interchange_world(admin: Api, folder: Path) -> dict:
    """Films (Ann, CC-BY, one still under the studio's own terms) and Stills (Bob, studio
    terms), both signed; a model trained on both."""
    ann, bob = holder(admin, "Ann Films"), holder(admin, "Bob Pictures", kind="person")
    cc_by = builtin_licence(admin, "CC-BY-4.0")
    terms = admin.ok("post", "/v1/licences", 201, json=STUDIO_TERMS)
    films = source(admin, [ann["id"]], cc_by["id"], name="Films", version="2.1",
                   description="Stills from open films", acquired_on="2026-03-01",
                   uri="https://films.example/stills")
    stills = source(admin, [bob["id"]], terms["id"], name="Stills", acquisition_method="licensed")
    assets = {"astronaut": upload(admin, films["id"], media.image("astronaut.png"),
                                  original_uri="https://films.example/astronaut.png"),
              "coffee": upload(admin, films["id"], media.image("coffee.png"), licence_id=terms["id"]),
              "chelsea": upload(admin, stills["id"], media.image("chelsea.png"))}
    films_manifest, stills_manifest = sign(admin, films, stills)
    model = admin.ok("post", "/v1/models", 201, json={
        "name": "Dreamer", "version": "1.0", "owner": "Example Studio",
        "trained_from": "2026-01-01", "trained_until": "2026-06-30",
        "training_sources": [{"source_id": films["id"], "weight": "0.7"},
                             {"source_id": stills["id"], "weight": "0.3"}]})
    return {"ann": ann, "bob": bob, "cc_by": cc_by, "terms": terms, "films": films,
            "stills": stills, "assets": assets, "films_manifest": films_manifest,
            "stills_manifest": stills_manifest, "model": model}


world = seeded(interchange_world)


def _croissant(api: Api, source_id: str) -> dict:
    response = api.get(f"/v1/sources/{source_id}/croissant")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    return response.json()


def test_croissant_is_valid_and_describes_files_licences_and_manifest(admin: Api, world: dict) -> None:
    films, manifest, assets = world["films"], world["films_manifest"], world["assets"]
    document = _croissant(admin, films["id"])
    # mlcroissant raises ValidationError on any error; it reads the inline context only.
    metadata = mlc.Dataset(jsonld=document).metadata
    assert metadata.name == "Films" and metadata.version == "2.1"
    assert document["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert document["url"] == "https://films.example/stills"
    assert document["license"] == ["https://spdx.org/licenses/CC-BY-4.0.html", "https://studio.example/terms"]
    assert document["creator"] == [{"@type": "sc:Organization", "name": "Ann Films"}]
    assert document["rai:dataCollectionTimeframe"] == ["2026-03-01"]
    assert document["rai:dataCollectionType"] == ["Secondary Data analysis"]
    assert "open licence on 2026-03-01" in document["rai:dataCollection"]
    assert manifest["payload_sha256"] in document["citeAs"]

    parts = {part["@id"]: part for part in document["distribution"]}
    signed = parts["manifest"]
    assert manifest["payload_sha256"] in signed["description"]
    envelope = admin.get(signed["contentUrl"].removeprefix("http://testserver"))
    assert hashlib.sha256(envelope.content).hexdigest() == signed["sha256"]

    astronaut = parts[f"assets/{assets['astronaut']['id']}"]
    assert astronaut["sha256"] == assets["astronaut"]["sha256"]
    assert astronaut["sameAs"] == "https://films.example/astronaut.png"
    content = admin.get(astronaut["contentUrl"].removeprefix("http://testserver"))
    assert hashlib.sha256(content.content).hexdigest() == astronaut["sha256"]
    assert parts[f"assets/{assets['coffee']['id']}"]["license"] == "https://studio.example/terms"

    # One file set per media type and licence: the coffee still carries the studio's terms.
    file_sets = {p["@id"]: p for p in document["distribution"] if p["@type"] == "cr:FileSet"}
    assert sorted(file_sets) == ["files/image/png/CC-BY-4.0", "files/image/png/LicenseRef-Studio-Terms-2026"]
    by_cc = file_sets["files/image/png/CC-BY-4.0"]
    assert by_cc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert by_cc["includes"] == [f"v1/assets/{assets['astronaut']['id']}/content"]
    assert [r["@id"] for r in document["recordSet"]] == [
        "records/image/png/CC-BY-4.0", "records/image/png/LicenseRef-Studio-Terms-2026"]


def test_croissant_of_an_unsigned_source_is_valid_and_cites_no_manifest(admin: Api, world: dict) -> None:
    fresh = source(admin, [world["ann"]["id"]], world["cc_by"]["id"], name="Unsigned")
    upload(admin, fresh["id"], media.image("astronaut.png"))
    document = _croissant(admin, fresh["id"])
    mlc.Dataset(jsonld=document)
    assert "manifest" not in {p["@id"] for p in document["distribution"]}
    assert "No registry-signed manifest" in document["citeAs"]


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    header, body = card.removeprefix("---\n").split("\n---\n", 1)
    assert body.lstrip().startswith("# ")
    return yaml.safe_load(header)


def test_dataset_card_names_hub_licences_and_custom_ones(admin: Api, world: dict) -> None:
    response = admin.get(f"/v1/sources/{world['films']['id']}/dataset-card")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    films = _front_matter(response.text)
    assert films["license"] == "cc-by-4.0" and "license_name" not in films
    assert world["films_manifest"]["payload_sha256"] in response.text

    stills = _front_matter(admin.get(f"/v1/sources/{world['stills']['id']}/dataset-card").text)
    assert stills["license"] == "other"
    assert stills["license_name"] == "studio-terms-2026"
    assert stills["license_link"] == "https://studio.example/terms"


def _spdx_objects(document: dict) -> list:
    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().read(io.BytesIO(json.dumps(document).encode()), objects)
    return list(objects.foreach())


def test_spdx_document_reads_back_with_the_official_bindings(admin: Api, world: dict) -> None:
    model, films, stills = world["model"], world["films"], world["stills"]
    response = admin.get(f"/v1/models/{model['id']}/spdx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/spdx+json")
    document = response.json()
    assert document["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    objects = _spdx_objects(document)

    (package,) = [o for o in objects if isinstance(o, spdx.ai_AIPackage)]
    assert package.name == "Dreamer" and package.software_packageVersion == "1.0"
    assert package.suppliedBy.name == "Example Studio"
    datasets = {o.name: o for o in objects if isinstance(o, spdx.dataset_DatasetPackage)}
    assert sorted(datasets) == ["Films", "Stills"]
    assert sorted(datasets["Films"].dataset_datasetType) == [spdx.dataset_DatasetType.image,
                                                          spdx.dataset_DatasetType.video]
    pinned = {s["source_id"]: s["manifest_sha256"] for s in model["training_sources"]}
    assert [h.hashValue for h in datasets["Films"].verifiedUsing] == [pinned[films["id"]]]
    assert [h.hashValue for h in datasets["Stills"].verifiedUsing] == [pinned[stills["id"]]]

    relationships = [o for o in objects if isinstance(o, spdx.Relationship)]
    (trained,) = [r for r in relationships if r.relationshipType == spdx.RelationshipType.trainedOn]
    assert trained.from_ is package and {d.name for d in trained.to} == {"Films", "Stills"}

    def licences(kind: str, name: str) -> list[str]:
        return [t.simplelicensing_licenseExpression for r in relationships
                if r.relationshipType == kind and r.from_ is datasets[name] for t in r.to]

    assert licences(spdx.RelationshipType.hasDeclaredLicense, "Films") == ["CC-BY-4.0"]
    assert licences(spdx.RelationshipType.hasConcludedLicense, "Films") == [
        "CC-BY-4.0 AND LicenseRef-Studio-Terms-2026"]
    assert licences(spdx.RelationshipType.hasDeclaredLicense, "Stills") == ["LicenseRef-Studio-Terms-2026"]


def test_spdx_document_is_json_ld_under_the_spdx_3_context(admin: Api, world: dict) -> None:
    document = admin.ok("get", f"/v1/models/{world['model']['id']}/spdx")
    assert spdx_jsonld.undefined_terms(document, spdx_jsonld.context()) == set()
    graph = spdx_jsonld.graph(document)
    terms = Namespace("https://spdx.org/rdf/3.0.1/terms/")
    (package,) = graph.subjects(RDF.type, terms["AI/AIPackage"])
    datasets = set(graph.subjects(RDF.type, terms["Dataset/DatasetPackage"]))
    (trained,) = graph.subjects(terms["Core/relationshipType"], terms["Core/RelationshipType/trainedOn"])
    assert graph.value(trained, terms["Core/from"]) == package and len(datasets) == 2
    assert set(graph.objects(trained, terms["Core/to"])) == datasets
    assert {str(graph.value(d, terms["Core/name"])) for d in datasets} == {"Films", "Stills"}


def test_documents_are_scoped_as_what_they_describe(admin: Api, world: dict) -> None:
    bob = admin.make_key("rights_holder", world["bob"]["id"])
    assert bob.get(f"/v1/sources/{world['films']['id']}/croissant").status_code == 404
    assert bob.get(f"/v1/sources/{world['films']['id']}/dataset-card").status_code == 404
    mlc.Dataset(jsonld=_croissant(bob, world["stills"]["id"]))
    objects = _spdx_objects(bob.ok("get", f"/v1/models/{world['model']['id']}/spdx"))
    assert [o.name for o in objects if isinstance(o, spdx.dataset_DatasetPackage)] == ["Stills"]
    for path in ("/v1/sources/src_missing/croissant", "/v1/sources/src_missing/dataset-card",
                 "/v1/models/mdl_missing/spdx"):
        response = admin.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


def test_cli_writes_the_same_documents(admin: Api, world: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = "https://registry.example"
    out = tmp_path / "films.json"
    result = cli("export", "croissant", world["films"]["id"], "--base-url", base, "--out", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    mlc.Dataset(jsonld=document)
    assert document["sameAs"] == f"{base}/v1/sources/{world['films']['id']}"
    result = cli("export", "spdx", world["model"]["id"], "--base-url", base, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len([o for o in _spdx_objects(json.loads(out.read_text()))
                if isinstance(o, spdx.dataset_DatasetPackage)]) == 2
    card = tmp_path / "README.md"
    result = cli("export", "dataset-card", world["stills"]["id"], "--base-url", base, "--out", str(card))
    assert result.exit_code == 0 and _front_matter(card.read_text())["license"] == "other"
    result = cli("export", "spdx", "mdl_missing", "--base-url", base, "--out", str(out))
    assert result.exit_code == 2 and "does not exist" in result.output
