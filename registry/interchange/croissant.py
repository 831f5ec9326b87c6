"""A source version as a Croissant 1.1 dataset description (http://mlcommons.org/croissant/1.1),
with the Responsible AI vocabulary (http://mlcommons.org/croissant/RAI/) fields the registry knows.

The dataset's files are the source's live assets, each a ``cr:FileObject`` served by the registry
with its SHA-256, grouped into one ``cr:FileSet`` per media type and licence (an asset may carry
its own licence), plus the newest registry-signed manifest, the signed list of them all.
"""

import hashlib
from typing import Any

from registry.holders.models import RightsHolder
from registry.interchange.facts import FileGroup, Links, SourceFacts, acquisition, licence_url

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
MEDIA_TYPE = f'application/ld+json; profile="{CONFORMS_TO}"'

# The recommended context of the Croissant 1.1 specification (its appendix 1), with the keys
# the 1.1 example datasets also carry and the schema.org spelling mlcroissant resolves.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "annotation": "cr:annotation",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "excludes": "cr:excludes",
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "readLines": "cr:readLines",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sdVersion": "cr:sdVersion",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "unArchive": "cr:unArchive",
    "value": "cr:value",
}

# How the registry's acquisition methods read in the RAI vocabulary's recommended values
# for rai:dataCollectionType.
_COLLECTION_TYPE = {
    "licensed": "Secondary Data analysis",
    "purchased": "Secondary Data analysis",
    "commissioned": "Manual Human Curator",
    "public_domain": "Secondary Data analysis",
    "open_licence": "Secondary Data analysis",
    "web_crawl": "Web Scraping",
    "user_contributed": "User-generated content data",
    "internal": "Others",
}

# The schema.org data type of a record's content, by the media type's top-level type (the
# Croissant data types; files of any other kind get no record set).
_CONTENT_TYPE = {"image": "sc:ImageObject", "video": "sc:VideoObject", "audio": "sc:AudioObject"}


def _agent(holder: RightsHolder) -> dict[str, Any]:
    return {"@type": "sc:Person" if holder.kind == "person" else "sc:Organization",
            "name": holder.name}


def _collection(facts: SourceFacts) -> str:
    source = facts.source
    text = f"Acquired as {acquisition(source)}."
    reserved = sorted({s["signal"] for s in source.opt_out_signals if s.get("reserved")})
    if reserved:
        text += " Rights reserved against text and data mining by: " + ", ".join(reserved) + "."
    return text


def _cite_as(facts: SourceFacts, links: Links) -> str:
    source, manifest = facts.source, facts.manifest
    note = (f"Registry-signed manifest {manifest.id}, payload SHA-256 {manifest.payload_sha256}"
            if manifest else "No registry-signed manifest yet")
    return (f"@misc{{{source.id}, title = {{{source.name}}}, version = {{{source.version}}}, "
            f"howpublished = {{{links.source(source.id)}}}, note = {{{note}}}}}")


def _file_set_id(group: FileGroup) -> str:
    return f"files/{group.media_type}/{group.licence.identifier}"


def _file_objects(group: FileGroup, links: Links) -> list[dict[str, Any]]:
    licence = licence_url(group.licence, links)
    objects = []
    for asset in group.assets:
        entry: dict[str, Any] = {
            "@type": "cr:FileObject", "@id": f"assets/{asset.id}", "name": asset.id,
            "contentUrl": links.asset_content(asset.id), "encodingFormat": asset.media_type,
            "contentSize": f"{asset.byte_size} B", "sha256": asset.sha256, "license": licence}
        if asset.original_uri:
            entry["sameAs"] = asset.original_uri
        objects.append(entry)
    return objects


def _file_set(group: FileGroup, links: Links) -> dict[str, Any]:
    # The set names its files by the paths the registry serves them at (relative to its origin).
    prefix = len(links.base_url) + 1
    return {"@type": "cr:FileSet", "@id": _file_set_id(group),
            "name": f"{group.media_type} under {group.licence.identifier}",
            "description": f"{len(group.assets)} {group.media_type} file(s) licensed under "
                           f"{group.licence.name} ({group.licence.identifier})",
            "encodingFormat": group.media_type, "license": licence_url(group.licence, links),
            "includes": [links.asset_content(a.id)[prefix:] for a in group.assets]}


def _manifest_object(facts: SourceFacts, links: Links) -> dict[str, Any]:
    manifest = facts.manifest
    assert manifest is not None
    return {"@type": "cr:FileObject", "@id": "manifest", "name": f"manifest {manifest.id}",
            "description": "The registry-signed manifest of this source version (a DSSE envelope "
                           "around an in-toto statement listing every asset by SHA-256); "
                           f"payload SHA-256 {manifest.payload_sha256}, {manifest.asset_count} "
                           f"assets, issued {manifest.issued_at.isoformat()}. sha256 here is "
                           "that of the envelope as served.",
            "contentUrl": links.envelope(manifest.id), "encodingFormat": "application/json",
            "contentSize": f"{len(manifest.envelope.encode())} B",
            "sha256": hashlib.sha256(manifest.envelope.encode()).hexdigest()}


def _record_set(group: FileGroup) -> dict[str, Any]:
    record_id = f"records/{group.media_type}/{group.licence.identifier}"
    content_type = _CONTENT_TYPE[group.media_type.split("/")[0]]
    return {"@type": "cr:RecordSet", "@id": record_id, "name": _file_set_id(group),
            "field": [{"@type": "cr:Field", "@id": f"{record_id}/content", "name": "content",
                       "dataType": content_type,
                       "source": {"fileSet": {"@id": _file_set_id(group)},
                                  "extract": {"fileProperty": "content"}}}]}


def croissant(facts: SourceFacts, links: Links) -> dict[str, Any]:
    source = facts.source
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": source.name,
        "version": source.version,
        "description": source.description or f"{source.name}, version {source.version}",
        "url": source.uri or links.source(source.id),
        "sameAs": links.source(source.id),
        "license": [licence_url(lic, links) for lic in facts.licences],
        "creator": [_agent(h) for h in facts.holders],
        "publisher": [_agent(h) for h in facts.holders],
        "datePublished": source.created_at.isoformat(),
        "dateModified": source.updated_at.isoformat(),
        "citeAs": _cite_as(facts, links),
        "rai:dataCollection": _collection(facts),
        "rai:dataCollectionType": [_COLLECTION_TYPE.get(source.acquisition_method, "Others")],
        "distribution": [],
        "recordSet": [_record_set(g) for g in facts.groups
                      if g.media_type.split("/")[0] in _CONTENT_TYPE],
    }
    if source.acquired_on:
        document["rai:dataCollectionTimeframe"] = [source.acquired_on.isoformat()]
    if facts.manifest:
        document["distribution"].append(_manifest_object(facts, links))
    for group in facts.groups:
        document["distribution"] += [*_file_objects(group, links), _file_set(group, links)]
    return document
