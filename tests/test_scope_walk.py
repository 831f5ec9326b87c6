"""Every operation of the OpenAPI document, walked with rights holder Ann's key over rights
holder Bob's records: Bob's ids as path parameters and as list filters, cursors from an
admin's listing, report parameters in every format. Nothing of Bob's may come back
(README, "Access control": a rights holder reads its works and its sources; everything else
answers as unknown), and no request may fail with a 5xx.

The walk is driven by the OpenAPI document: an operation or a parameter the walk does not
know fails the test, so a new endpoint cannot slip past it."""

import base64
import binascii
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlencode

import imagehash
import pypdfium2 as pdfium
from PIL import Image

from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload
from tests.worlds import jpeg

OPT_OUT_DATE = "2026-03-01T00:00:00Z"
PERIOD = {"period_start": "2026-01-01", "period_end": "2100-12-31"}

# Ids of nothing, one per kind: what an out-of-scope record must be indistinguishable from.
UNKNOWN = {"asset": "ast_00000000000000000000000000", "source": "src_00000000000000000000000000",
           "holder": "hld_00000000000000000000000000", "claim": "clm_00000000000000000000000000",
           "opt_out": "opt_00000000000000000000000000", "manifest": "man_00000000000000000000000000",
           "model": "mdl_00000000000000000000000000", "generation": "gen_00000000000000000000000000",
           "check": "chk_00000000000000000000000000", "job": "job_00000000000000000000000000",
           "key": "key_00000000000000000000000000", "licence": "lic_00000000000000000000000000",
           "signal": "sig_00000000000000000000000000",
           "digest": "0" * 64, "thumbnail": "0" * 64, "log_idx": 10 ** 9, "log_size": 10 ** 9}

# Path and query parameters that name a record, by the kind of record they name.
ID_PARAMS = {"asset_id": "asset", "source_id": "source", "holder_id": "holder",
             "claim_id": "claim", "opt_out_id": "opt_out", "manifest_id": "manifest",
             "model_id": "model", "generation_id": "generation", "check_id": "check",
             "job_id": "job", "key_id": "key", "licence_id": "licence", "key": "key", "signal_id": "signal",
             "entity_id": "entity", "sha256": "digest", "png_sha256": "thumbnail",
             "idx": "log_idx", "after": "log_idx", "size": "log_size", "tree_size": "log_size",
             "first": "log_size", "second": "log_size"}

# Every other query parameter, with the values tried (enums and booleans come from the
# document itself). Required parameters get the first value in every request.
PLAIN_PARAMS: dict[str, list[Any]] = {
    "name": ["Bob", "Bob secret library", "Ann"], "owner": ["Studio X"],
    "production": ["Moonfall"], "identifier": ["CC-BY-4.0"], "media_type": ["image/png"],
    "limit": [1, 200], "on": ["2026-04-01"], "territory": ["DE"],
    "period_start": [PERIOD["period_start"]], "period_end": [PERIOD["period_end"]],
    "pool": ["1000.00"], "currency": ["EUR"], "training_share": ["0.5"],
    "since": ["2000-01-01T00:00:00Z"], "until": ["2100-01-01T00:00:00Z"],
}

# Rights holders may not use these at all (403 for every request of the walk).
ROLE_FORBIDDEN_GETS = {
    "/v1/check-jobs", "/v1/check-jobs/{job_id}", "/v1/checks/{check_id}", "/v1/generations",
    "/v1/generations/{generation_id}", "/v1/generations/{generation_id}/lineage",
    "/v1/keys", "/v1/log/entries", "/v1/log/entries/{idx}", "/v1/exports/audit",
    "/v1/reports/clearance",
    # names every training source, another holder's too
    "/v1/models/{model_id}/training-summary",
}
# Reads a rights holder may make that are POSTs (their bodies are below).
READ_POSTS = {"/v1/evaluations", "/v1/lookups", "/v1/lookups/fingerprints"}
# Operations left out of the walk, each with its reason. Every other operation of the
# OpenAPI document is walked: GETs and the reads above with every parameter, and every
# write with Bob's records in its path and body (it must answer as for unknown records).
EXCLUDED: dict[tuple[str, str], str] = {}




@dataclass
class World:
    ann: Api
    # kind -> [(value, tag)], tag: own (Ann's), shared (readable by both), foreign (Bob's)
    ids: dict[str, list[tuple[Any, str]]] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    bob_digests: set[str] = field(default_factory=set)
    records: dict[str, dict] = field(default_factory=dict)  # by name, as created
    lookups: list[list[tuple[str, bytes]]] = field(default_factory=list)
    phashes: list[str] = field(default_factory=list)


def build_world(admin: Api) -> World:
    """Ann and Bob each hold a source of stills; Bob also holds a mirror with a copy of Ann's
    coffee still. Both opt out their works, and Bob disputes Ann's coffee still too. One
    model is trained on all three sources, another on Bob's only. A generation copies Ann's
    and Bob's stills, another only Bob's; both hold copyright and compensation claims."""
    ann, bob = holder(admin, "Ann Films"), holder(admin, "Bob Hidden Pictures",
                                                  contact="bob-secret-contact@example.org")
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    ann_src = source(admin, [ann["id"]], cc_by, name="Ann stills")
    bob_src = source(admin, [bob["id"]], cc_by, name="Bob secret library",
                     description="Bob secret description")
    mirror = source(admin, [bob["id"]], cc_by, name="Bob secret mirror")
    coffee = upload(admin, ann_src["id"], media.image("coffee.png"))
    chelsea = upload(admin, bob_src["id"], media.image("chelsea.png"),
                     original_uri="https://bob.example/secret-original-uri")
    mirrored = upload(admin, mirror["id"], media.image("coffee.png"))
    manifests = {s["id"]: admin.ok("post", f"/v1/sources/{s['id']}/manifests", 201)
                 for s in (ann_src, bob_src, mirror)}
    ann_key, bob_key = (admin.make_key("rights_holder", h["id"]) for h in (ann, bob))
    signals = {name: admin.ok("post", f"/v1/sources/{src['id']}/signals", 201, json={
        "kind": "robots_txt", "url": url, "observed_at": OPT_OUT_DATE,
        "content": "User-agent: *\nContent-Usage: train-ai=n\n", **extra})
        for name, src, url, extra in (
            ("ann", ann_src, "https://ann.example/robots.txt", {}),
            ("bob", bob_src, "https://bob.example/secret-robots.txt", {}),
            ("mirrored", mirror, "https://bob.example/secret-mirror.txt", {"asset_id": mirrored["id"]}))}

    ann_opt = ann_key.ok("post", "/v1/opt-outs", 201, json={
        "sha256": coffee["sha256"], "effective_from": OPT_OUT_DATE, "note": "Ann reserves"})
    bob_opt = bob_key.ok("post", "/v1/opt-outs", 201, json={
        "sha256": chelsea["sha256"], "effective_from": OPT_OUT_DATE,
        "note": "Bob secret opt-out note"})
    dispute = bob_key.ok("post", "/v1/opt-outs", 201, json={
        "sha256": coffee["sha256"], "effective_from": OPT_OUT_DATE,
        "note": "Bob secret dispute note"})

    model = admin.ok("post", "/v1/models", 201, json={
        "name": "Dreamreel", "version": "1", "owner": "Studio X", "trained_until": "2026-10-01",
        "training_sources": [{"source_id": ann_src["id"], "weight": "0.5"},
                             {"source_id": bob_src["id"], "weight": "0.3"},
                             {"source_id": mirror["id"], "weight": "0.2"}]})
    admin.ok("put", f"/v1/models/{model['id']}/training-summary/statement", 201, json={
        "summary_version": "1", "provider_name": "Studio X", "provider_contact": "legal@studio.example",
        "modalities": ["image", "video"]})
    bob_model = admin.ok("post", "/v1/models", 201, json={
        "name": "Dreamreel", "version": "2", "owner": "Studio X", "trained_until": "2026-10-01",
        "training_sources": [{"source_id": bob_src["id"], "weight": "1"}]})
    both_check = admin.ok("post", "/v1/checks", 201, files=[
        ("files", ("ann-frame.jpg", jpeg(Image.open(media.image("coffee.png")), scale=0.7))),
        ("files", ("secret-bob-frame.jpg", jpeg(Image.open(media.image("chelsea.png")), scale=0.7)))])
    matched = {m["asset_id"] for item in both_check["items"] for m in item["matches"]}
    assert matched == {coffee["id"], chelsea["id"], mirrored["id"]}, both_check
    bob_check = admin.ok("post", "/v1/checks", 201, files=[
        ("files", ("secret-bob-only.jpg", jpeg(Image.open(media.image("chelsea.png")), scale=0.6)))])
    assert {m["asset_id"] for m in bob_check["items"][0]["matches"]} == {chelsea["id"]}
    both_gen = admin.ok("post", "/v1/generations", 201, json={
        "model_id": model["id"], "production": "Moonfall", "title": "Shot 12",
        "check_ids": [both_check["id"]]})
    bob_gen = admin.ok("post", "/v1/generations", 201, json={
        "model_id": model["id"], "production": "Moonfall", "title": "Bob secret shot",
        "check_ids": [bob_check["id"]]})

    claims = {}
    for name, api, body in (
            ("ann_copyright", ann_key, {"kind": "copyright", "generation_id": both_gen["id"]}),
            ("ann_compensation", ann_key, {"kind": "compensation", "model_id": model["id"]}),
            ("bob_copyright", bob_key, {"kind": "copyright", "generation_id": bob_gen["id"]}),
            ("bob_compensation", bob_key, {"kind": "compensation", "model_id": model["id"]}),
            ("bob_both", bob_key, {"kind": "copyright", "generation_id": both_gen["id"]})):
        statement = f"{name} statement" if name.startswith("ann") else f"Bob secret claim {name}"
        claims[name] = api.ok("post", "/v1/claims", 201, json={**body, "statement": statement})
    bob_claims = [c for n, c in claims.items() if n.startswith("bob")]
    admin.ok("post", f"/v1/claims/{claims['bob_copyright']['id']}/transitions",
             json={"to": "under_review", "comment": "Bob secret review comment"})
    bob_key.ok("post", f"/v1/claims/{claims['bob_both']['id']}/comments", 201,
               json={"comment": "Bob secret claimant comment"})

    # What an admin sees of the shared generation's evidence: Bob's frames' thumbnails too.
    evidence = admin.ok("get", f"/v1/reports/copyright-evidence/{both_gen['id']}")
    thumbnails: dict[str, list[str]] = {"own": [], "foreign": []}
    for match in evidence["matches"]:
        tag = "own" if match["work"]["asset_id"] == coffee["id"] else "foreign"
        for span in match["spans"]:
            for side in ("generated", "registered"):
                if span[side]["png_sha256"]:
                    thumbnails[tag].append(span[side]["png_sha256"])
    assert thumbnails["own"] and thumbnails["foreign"]
    thumbnails["foreign"] = [t for t in thumbnails["foreign"] if t not in thumbnails["own"]]
    checkpoint = int(admin.client.get("/v1/log/checkpoint").text.splitlines()[1])

    world = World(ann_key)
    world.records = {"ann_src": ann_src, "coffee": coffee, "mirrored": mirrored, "ann_opt": ann_opt,
                     "dispute": dispute, "model": model, **claims}
    bob_key_id = bob_key.key[3:33]
    world.ids = {
        "asset": [(coffee["id"], "own"), (chelsea["id"], "foreign"), (mirrored["id"], "foreign")],
        "source": [(ann_src["id"], "own"), (bob_src["id"], "foreign"), (mirror["id"], "foreign")],
        "holder": [(ann["id"], "own"), (bob["id"], "foreign")],
        "claim": [(claims["ann_copyright"]["id"], "own"), (claims["ann_compensation"]["id"], "own")]
        + [(c["id"], "foreign") for c in bob_claims],
        "opt_out": [(ann_opt["id"], "own"), (bob_opt["id"], "foreign"), (dispute["id"], "foreign")],
        "manifest": [(manifests[ann_src["id"]]["id"], "own"),
                     (manifests[bob_src["id"]]["id"], "foreign"),
                     (manifests[mirror["id"]]["id"], "foreign")],
        # Models are not a holder's records: every reader sees them (their training mixes
        # filtered). The shared generation and check matched Ann's works and Bob's.
        "model": [(model["id"], "shared"), (bob_model["id"], "shared")],
        "generation": [(both_gen["id"], "shared"), (bob_gen["id"], "foreign")],
        "check": [(both_check["id"], "shared"), (bob_check["id"], "foreign")],
        "job": [],
        "key": [(ann_key.key[3:33], "own"), (bob_key_id, "foreign")],
        "licence": [(cc_by, "shared")],
        "signal": [(signals["ann"]["id"], "own"), (signals["bob"]["id"], "foreign"),
                   (signals["mirrored"]["id"], "foreign")],
        "digest": [(coffee["sha256"], "own"), (chelsea["sha256"], "foreign")],
        "thumbnail": [(t, "own") for t in thumbnails["own"]]
        + [(t, "foreign") for t in thumbnails["foreign"]],
        "log_idx": [(0, "shared"), (checkpoint - 1, "shared")],
        "log_size": [(1, "shared"), (checkpoint, "shared")],
    }
    world.ids["entity"] = [v for kind in ("holder", "source", "asset", "claim", "opt_out",
                                          "generation") for v in world.ids[kind]]
    foreign_ids = {str(v) for kind in world.ids.values() for v, tag in kind if tag == "foreign"}
    world.bob_digests = {chelsea["sha256"], manifests[bob_src["id"]]["payload_sha256"],
                         manifests[mirror["id"]]["payload_sha256"]}
    world.secrets = foreign_ids | world.bob_digests | {
        bob["name"], "bob-secret-contact@example.org", "Bob secret library",
        "Bob secret description", "Bob secret mirror", "secret-original-uri", "secret-robots.txt",
        "secret-mirror.txt",
        "Bob secret opt-out note", "Bob secret dispute note", "Bob secret claim",
        "Bob secret review comment", "Bob secret claimant comment", "Bob secret shot",
        "secret-bob-frame.jpg", "secret-bob-only.jpg",
        manifests[bob_src["id"]]["asset_root"], manifests[mirror["id"]]["asset_root"]}
    # The digests as base64 too (RFC 9530 headers, checkpoints and proofs spell them so).
    world.secrets |= {base64.b64encode(bytes.fromhex(d)).decode() for d in world.bob_digests}
    world.lookups = [[("coffee.png", media.image("coffee.png").read_bytes())],
                     [("kitten.jpg", jpeg(Image.open(media.image("chelsea.png")), scale=0.8))],
                     [("mine.jpg", jpeg(Image.open(media.image("coffee.png")), scale=0.8)),
                      ("theirs.jpg", jpeg(Image.open(media.image("chelsea.png")), scale=0.8))]]
    world.phashes = [str(imagehash.phash(Image.open(media.image(n)))) for n in ("coffee.png", "chelsea.png")]
    return world


# --- what a response gives away -----------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def _texts(raw: bytes, depth: int = 0) -> Iterator[str]:
    """The text of a body and of every base64 string inside it (DSSE payloads, log entries'
    canonical bytes), recursively."""
    text = raw.decode("utf-8", "replace")
    yield text
    if depth >= 3:
        return
    for token in set(_TOKEN.findall(text)):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                inner = decode(token + "=" * (-len(token) % 4))
            except (binascii.Error, ValueError):
                continue
            if inner.isascii() or _is_utf8(inner):
                yield from _texts(inner, depth + 1)
                break


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _pdf_text(content: bytes) -> str:
    document = pdfium.PdfDocument(content)
    return "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))


def leaks(world: World, response: Any, asked: str) -> list[str]:
    """Bob's secrets in the response that the request did not itself name."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/pdf"):
        texts = [_pdf_text(response.content)]
    elif kind.startswith(("image/", "application/octet-stream")):
        digest = hashlib.sha256(response.content).hexdigest()
        texts = [digest] if digest in world.bob_digests else []
    else:
        texts = list(_texts(response.content))
    texts.append(json.dumps(dict(response.headers)))
    return sorted(s for s in world.secrets if s not in asked and any(s in t for t in texts))


# --- the walk -----------------------------------------------------------------------------

@dataclass
class Walk:
    world: World
    admin: Api
    walked: set[tuple[str, str]] = field(default_factory=set)
    ok: dict[str, int] = field(default_factory=dict)  # path -> 2xx answers
    statuses: dict[str, set[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def send(self, method: str, template: str, path: dict[str, Any], query: dict[str, Any],
             **kw: Any) -> Any:
        url = template.format(**path)
        if query:
            url += "?" + urlencode(query)
        response = self.world.ann.client.request(method.upper(), url,
                                                 headers=self.world.ann.headers, **kw)
        self.requests += 1
        asked = unquote_plus(url) + json.dumps(kw.get("json"))
        where = f"{method.upper()} {unquote_plus(url)} {kw.get('json') or ''}"
        if response.status_code >= 500:
            self.failures.append(f"{where}: {response.status_code} {response.text[:300]}")
        found = leaks(self.world, response, asked)
        if found:
            self.failures.append(f"{where}: {response.status_code} gives away {found}")
        self.walked.add((method, template))
        self.statuses.setdefault(template, set()).add(response.status_code)
        if response.status_code < 300:
            self.ok[template] = self.ok.get(template, 0) + 1
        return response

    def as_unknown(self, method: str, template: str, path: dict, query: dict, response: Any,
                   tagged: dict[str, tuple[Any, str]], **kw: Any) -> None:
        """Bob's records must answer as unknown ones: the same status, the same problem type,
        the same (empty) findings."""
        if not any(tag == "foreign" for _, tag in tagged.values()):
            return
        path2, query2 = dict(path), dict(query)
        for name, (_, tag) in tagged.items():
            if tag == "foreign":
                target = path2 if name in path2 else query2
                target[name] = UNKNOWN[_kind(name)]
        twin = self.send(method, template, path2, query2, **kw)
        where = f"{method.upper()} {template} {path} {query}"
        if twin.status_code != response.status_code:
            self.failures.append(f"{where}: {response.status_code} for Bob's record, "
                                 f"{twin.status_code} for an unknown one")
        elif response.headers.get("content-type") == "application/problem+json":
            if response.json()["type"] != twin.json()["type"]:
                self.failures.append(f"{where}: problem {response.json()['type']} for Bob's "
                                     f"record, {twin.json()['type']} for an unknown one")
        elif response.headers.get("content-type") == "application/json" and response.json() != twin.json():
            self.failures.append(f"{where}: finds something for Bob's record "
                                 f"({response.text[:300]}), not for an unknown one")


def _kind(param: str) -> str:
    assert param in ID_PARAMS, f"the walk does not know what parameter '{param}' names"
    kind = ID_PARAMS[param]
    return "asset" if kind == "entity" else kind


def _id_values(world: World, param: str) -> list[tuple[Any, str]]:
    kind = ID_PARAMS[param]
    return world.ids[kind] + [(UNKNOWN["asset" if kind == "entity" else kind], "unknown")]


def _schema(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _schema(spec, option)
    return schema


def _query_values(walk: Walk, spec: dict, template: str, param: dict,
                  required: dict[str, Any]) -> list[tuple[Any, str]]:
    name, schema = param["name"], _schema(spec, param.get("schema", {}))
    if name == "cursor":
        return [(c, "cursor") for c in _cursors(walk, template, required)]
    if name in ID_PARAMS:
        return _id_values(walk.world, name)
    if "enum" in schema:
        return [(v, "plain") for v in schema["enum"]]
    if schema.get("type") == "boolean":
        return [("true", "plain"), ("false", "plain")]
    assert name in PLAIN_PARAMS, f"the walk does not know query parameter '{name}' of {template}"
    return [(v, "plain") for v in PLAIN_PARAMS[name]]


def _cursors(walk: Walk, template: str, required: dict[str, Any]) -> list[str]:
    """Every page's cursor of an admin's listing, one record a page (Bob's among them)."""
    cursors, cursor = [], None
    while len(cursors) < 20:
        params = {**required, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = walk.admin.ok("get", template, params=params)
        cursor = page.get("next_cursor")
        if not cursor:
            return cursors
        cursors.append(cursor)
    return cursors


def walk_get(walk: Walk, spec: dict, template: str, operation: dict) -> None:
    params = operation.get("parameters", [])
    path_params = [p["name"] for p in params if p["in"] == "path"]
    query_params = [p for p in params if p["in"] == "query"]
    # Clearance needs one of its two optional parameters: the one naming a generation.
    needs = {"/v1/reports/clearance": {"generation_id"}}.get(template, set())
    base: dict[str, tuple[Any, str]] = {}
    for p in query_params:
        if p.get("required") or p["name"] in needs:
            values = _query_values(walk, spec, template, p, {})
            base[p["name"]] = values[0]
    required = {k: v for k, (v, _) in base.items()}
    variations: list[dict[str, tuple[Any, str]]] = [base]
    for p in query_params:
        for value in _query_values(walk, spec, template, p, required):
            if base.get(p["name"]) != value:
                variations.append({**base, p["name"]: value})
    for combo in itertools.product(*(_id_values(walk.world, n) for n in path_params)):
        path_tagged = dict(zip(path_params, combo, strict=True))
        path = {k: v for k, (v, _) in path_tagged.items()}
        for tagged_query in variations:
            query = {k: v for k, (v, _) in tagged_query.items()}
            response = walk.send("get", template, path, query)
            walk.as_unknown("get", template, path, query, response,
                            {**path_tagged, **{k: v for k, v in tagged_query.items()
                                               if k in ID_PARAMS}})


def walk_read_posts(walk: Walk) -> None:
    world = walk.world
    for (value, tag) in _id_values(world, "source_id") + [(world.ids["source"][0][0], "mix")]:
        source_ids = [value] if tag != "mix" else [world.ids["source"][0][0], world.ids["source"][1][0]]
        for use in ("commercial_training", "noncommercial_research"):
            body = {"source_ids": source_ids, "use": use, "on": "2026-04-01"}
            response = walk.send("post", "/v1/evaluations", {}, {}, json=body)
            if tag in ("foreign", "mix"):
                twin = walk.send("post", "/v1/evaluations", {}, {},
                                 json={**body, "source_ids": [UNKNOWN["source"]]})
                if (response.status_code, response.json()["type"]) != (twin.status_code, twin.json()["type"]):
                    walk.failures.append(f"evaluation of {source_ids}: {response.status_code}, "
                                         f"unknown source: {twin.status_code}")
    for files in world.lookups:
        response = walk.send("post", "/v1/lookups", {}, {},
                             files=[("files", f) for f in files])
        assert response.status_code == 200, response.text
    for phash in world.phashes:
        walk.send("post", "/v1/lookups/fingerprints", {}, {}, json={"phashes": [phash]})
    walk.send("post", "/v1/lookups/fingerprints", {}, {}, json={"phashes": world.phashes})


def _write_bodies(world: World, method: str, template: str) -> list[dict[str, Any]]:
    """What a write sends: Bob's records where it names any."""
    foreign = {k: next((v for v, tag in values if tag == "foreign"), None)
               for k, values in world.ids.items()}
    image = ("frame.jpg", jpeg(Image.open(media.image("chelsea.png")), scale=0.5))
    if template == "/v1/claims":
        return [{"json": {"kind": "copyright", "generation_id": foreign["generation"],
                          "statement": "mine?"}},
                {"json": {"kind": "compensation", "model_id": world.ids["model"][1][0],
                          "statement": "mine?"}},
                {"json": {"kind": "copyright", "generation_id": world.ids["generation"][0][0],
                          "statement": "for Bob", "holder_id": foreign["holder"]}}]
    if template == "/v1/opt-outs":
        return [{"json": {"holder_id": foreign["holder"], "sha256": foreign["digest"],
                          "effective_from": OPT_OUT_DATE}}]
    if template.endswith("/retire"):
        return [{"json": {"reason": "probe"}}]
    if template.endswith("/comments"):
        return [{"json": {"comment": "probe"}}]
    if template.endswith("/transitions"):
        return [{"json": {"to": "under_review"}}]
    if template.endswith("/manifests/submitted"):
        return [{"json": {"envelope": {"payloadType": "x", "payload": "", "signatures": []}}}]
    if template.endswith("/checks") and "{generation_id}" in template:
        return [{"json": {"check_id": foreign["check"]}}]
    if template in ("/v1/checks", "/v1/check-jobs") or template.endswith("/assets"):
        return [{"files": [("files" if template == "/v1/checks" else "file", image)]}]
    if template == "/v1/checks/fingerprints":
        return [{"json": {"phashes": world.phashes}}]
    if template == "/v1/models":
        return [{"json": {"name": "x", "version": "1", "owner": "x", "trained_until": "2026-01-01",
                          "training_sources": [{"source_id": foreign["source"], "weight": "1"}]}}]
    if template == "/v1/generations":
        return [{"json": {"model_id": world.ids["model"][0][0], "production": "x", "title": "x",
                          "check_ids": [foreign["check"]]}}]
    if template == "/v1/keys":
        return [{"json": {"name": "x", "role": "rights_holder", "holder_id": foreign["holder"]}}]
    if method == "patch":
        return [{"json": {"contact": "x"} if "holders" in template else {"description": "x"}}]
    return [{"json": {}}]


def walk_write(walk: Walk, template: str, method: str, operation: dict) -> None:
    """Writes naming Bob's records answer as for unknown ones (Ann's own records are left
    alone: changing them is hers to do)."""
    path_params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    candidates = [[v for v in _id_values(walk.world, n) if v[1] in ("foreign", "unknown", "shared")]
                  for n in path_params]
    for combo in itertools.product(*candidates):
        path_tagged = dict(zip(path_params, combo, strict=True))
        path = {k: v for k, (v, _) in path_tagged.items()}
        for body in _write_bodies(walk.world, method, template):
            response = walk.send(method, template, path, {}, **body)
            assert response.status_code >= 400, (method, template, path, body, response.text)
            walk.as_unknown(method, template, path, {}, response, path_tagged, **body)


def test_a_rights_holder_walking_every_endpoint_sees_nothing_of_another(admin: Api) -> None:
    world = build_world(admin)
    spec = admin.client.app.openapi()
    walk = Walk(world, admin)
    operations = {(method, path): op for path, ops in spec["paths"].items()
                  for method, op in ops.items()}
    for (method, template), operation in sorted(operations.items()):
        if (method, template) in EXCLUDED:
            continue
        if method == "get":
            walk_get(walk, spec, template, operation)
        elif method == "post" and template in READ_POSTS:
            continue  # below, with their bodies
        else:
            walk_write(walk, template, method, operation)
    walk_read_posts(walk)

    # Nothing of the document escaped the walk, and the walk named nothing it does not hold.
    assert walk.walked == set(operations) - set(EXCLUDED)
    assert set(EXCLUDED) <= set(operations)
    assert not walk.failures, "\n".join([f"{len(walk.failures)} problems:"] + walk.failures)
    # The walk reached into what Ann may read (it is not 404s all the way down) ...
    gets = {path for method, path in operations if method == "get"}
    assert {p for p in gets - ROLE_FORBIDDEN_GETS if not walk.ok.get(p)} == set(), walk.statuses
    # ... and the routes closed to rights holders stayed closed.
    assert {p: s for p, s in walk.statuses.items() if p in ROLE_FORBIDDEN_GETS and s != {403}} == {}


def test_what_a_rights_holder_still_learns_about_its_own_works(admin: Api) -> None:
    """Keeping Bob's records from Ann does not hide what concerns her works."""
    world = build_world(admin)
    ann, r = world.ann, world.records
    coffee = r["coffee"]["id"]
    # Her still's lineage: her copy; Bob's mirror holds the same file, which readers see.
    assert [c["asset_id"] for c in ann.ok("get", f"/v1/assets/{coffee}/lineage")["copies"]] == [coffee]
    assert [c["asset_id"] for c in admin.ok("get", f"/v1/assets/{coffee}/lineage")["copies"]] == sorted(
        [coffee, r["mirrored"]["id"]])
    # Her source is denied by her reservation and by Bob's, which is not named to her.
    body = {"source_ids": [r["ann_src"]["id"]], "use": "commercial_training", "on": "2026-04-01"}
    reasons = [x for x in ann.ok("post", "/v1/evaluations", json=body)["reasons"] if x["code"] == "opted_out"]
    assert sorted((x["opt_out_id"] or "", x["asset_id"]) for x in reasons) == [
        ("", coffee), (r["ann_opt"]["id"], coffee)]
    assert {x["opt_out_id"] for x in admin.ok("post", "/v1/evaluations", json=body)["reasons"]
            if x["code"] == "opted_out"} == {r["ann_opt"]["id"], r["dispute"]["id"]}
    # Her claims' evidence: every proof, but the payload of an entry naming Bob's records
    # (the check that matched his still too; the model trained on his sources) withheld.
    copyright_claim = ann.ok("get", f"/v1/claims/{r['ann_copyright']['id']}")["evidence"]
    assert [c["log"]["payload"] for c in copyright_claim["checks"]] == [None]
    assert copyright_claim["generation_log"]["log"]["payload"] and copyright_claim["manifests"][0]["log"]["payload"]
    assert [m["asset_id"] for m in copyright_claim["matches"]] == [coffee]
    compensation = ann.ok("get", f"/v1/claims/{r['ann_compensation']['id']}")["evidence"]
    assert compensation["model_log"]["log"]["payload"] is None
    assert compensation["model_log"]["log"]["inclusion"] and compensation["manifests"][0]["log"]["payload"]
    full = admin.ok("get", f"/v1/claims/{r['ann_compensation']['id']}")["evidence"]
    assert full["model_log"]["log"]["payload"]
    assert admin.ok("get", f"/v1/claims/{r['ann_copyright']['id']}")["evidence"]["checks"][0]["log"]["payload"]
