"""The worlds the API tests run in: records built through the public API (tests/factories.py)
on the sample media (tests/media.py), and the near copies a generator or a crawler makes of
that media.

A test module declares the world its tests share with ``seeded``::

    world = seeded(claims_world)

The world is then built once per module and database (SQLite, PostgreSQL) into a template:
a database and its data directory (blobs, index segments). Each test that asks for the
fixture runs on a fresh clone of that template, the way conftest clones the migrated
schema, so tests stay isolated while the world costs one build per module instead of one
per test. The cloned database holds the template's API keys: ``admin`` is the key that built
the world, and the rights holders' keys in it work unchanged."""

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from tests import media
from tests.conftest import WORLD, Api
from tests.factories import builtin_licence, holder, source, upload

# Builds a world with an admin key; ``folder`` is the template's, for the files it makes.
Builder = Callable[[Api, Path], dict]


def seeded(build: Builder) -> Any:
    """A fixture (named as the module attribute it is assigned to) giving each test a
    fresh clone of the world ``build`` makes; conftest's ``database_url`` does the cloning."""

    def world(admin: Api, request: pytest.FixtureRequest) -> dict:
        return _bind(request.node.stash[WORLD].records, admin)

    world.seeded_world = build  # type: ignore[attr-defined]  # found by conftest
    world.__doc__ = build.__doc__
    return pytest.fixture(world)


def _bind(value: Any, admin: Api) -> Any:
    """A copy of the template's records, its keys speaking to this test's app."""
    if isinstance(value, Api):
        return Api(admin.client, value.key)
    if isinstance(value, dict):
        return {k: _bind(v, admin) for k, v in value.items()}
    if isinstance(value, list):
        return [_bind(v, admin) for v in value]
    return value  # ids, paths, numbers: immutable


# ----------------------------------------------------------------------- near copies

def jpeg(image: Image.Image, quality: int = 60, scale: float = 1.0) -> bytes:
    """``image`` re-encoded as a JPEG, rescaled by ``scale`` first: a near copy, not the same file."""
    image = image.convert("RGB")
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def near_copy_of_astronaut() -> bytes:
    """What a generator that memorised the astronaut might emit: cropped, mirrored, resized."""
    astronaut = Image.open(media.image("astronaut.png"))
    w, h = astronaut.size
    return jpeg(ImageOps.mirror(astronaut.crop((60, 40, w - 60, h - 80))).resize((300, 280)))


# ---------------------------------------------------------------------- building blocks

def ann_and_bob(admin: Api) -> tuple[dict, dict]:
    """The two rights holders most worlds are about."""
    return holder(admin, "Ann Films"), holder(admin, "Bob Pictures")


def sign(admin: Api, *sources: dict) -> list[dict]:
    """A signed manifest of each source, in order."""
    return [admin.ok("post", f"/v1/sources/{s['id']}/manifests", 201) for s in sources]


def model(admin: Api, name: str, version: str, mix: list[tuple[dict, str]], *,
          owner: str = "Studio X", trained_until: str = "2026-10-01") -> dict:
    """A model trained on ``mix``: (source, weight) pairs."""
    return admin.ok("post", "/v1/models", 201, json={
        "name": name, "version": version, "owner": owner, "trained_until": trained_until,
        "training_sources": [{"source_id": s["id"], "weight": weight} for s, weight in mix]})


def rights_holder_key(admin: Api, holder_record: dict) -> Api:
    return admin.make_key("rights_holder", holder_record["id"])


# ------------------------------------------------------------------------------ worlds

def roles_world(admin: Api, folder: Path) -> dict:
    """Two holders, each with a source and an asset."""
    ann, bob = ann_and_bob(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")
    ann_src = source(admin, [ann["id"]], cc_by["id"], name="Ann")
    bob_src = source(admin, [bob["id"]], cc_by["id"], name="Bob")
    return {"ann": ann, "bob": bob, "ann_src": ann_src, "bob_src": bob_src,
            "ann_asset": upload(admin, ann_src["id"], media.image("coffee.png")),
            "bob_asset": upload(admin, bob_src["id"], media.image("chelsea.png")),
            "licence": cc_by}


def scope_world(admin: Api, folder: Path) -> dict:
    """Ann and Bob each hold a source; one model trained on both."""
    ann, bob = ann_and_bob(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    ann_src = source(admin, [ann["id"]], cc_by, name="Ann stills")
    bob_src = source(admin, [bob["id"]], cc_by, name="Bob secret library")
    upload(admin, ann_src["id"], media.image("coffee.png"))
    upload(admin, bob_src["id"], media.image("chelsea.png"))
    manifests = sign(admin, ann_src, bob_src)
    trained = model(admin, "Dreamreel", "1", [(ann_src, "0.5"), (bob_src, "0.5")])
    bob_link = next(s for s in trained["training_sources"] if s["source_id"] == bob_src["id"])
    return {"ann": ann, "ann_src": ann_src, "bob_src": bob_src, "model": trained,
            "bob_secrets": [bob_src["id"], "Bob secret library", manifests[1]["id"],
                            bob_link["manifest_sha256"]],
            "ann_key": rights_holder_key(admin, ann)}


def claims_world(admin: Api, folder: Path) -> dict:
    """Ann holds a CC-BY film-stills source, Bob a second source; a model trained on both;
    a generated frame copying Ann's astronaut, checked and linked to its generation."""
    ann, bob = ann_and_bob(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    ann_src = source(admin, [ann["id"]], cc_by, name="Ann stills")
    bob_src = source(admin, [bob["id"]], cc_by, name="Bob stills")
    astronaut = upload(admin, ann_src["id"], media.image("astronaut.png"))
    coffee = upload(admin, ann_src["id"], media.image("coffee.png"))
    # Bob owns one asset inside Ann's source: it is Bob's work, not Ann's.
    camera = upload(admin, ann_src["id"], media.image("camera.png"), holder_id=bob["id"])
    chelsea = upload(admin, bob_src["id"], media.image("chelsea.png"))
    ann_man, bob_man = sign(admin, ann_src, bob_src)
    trained = model(admin, "Dreamreel", "1", [(ann_src, "0.7"), (bob_src, "0.3")])
    bob_only = model(admin, "Dreamreel", "2", [(bob_src, "1")], trained_until="2026-11-01")
    check = admin.ok("post", "/v1/checks", 201,
                     files=[("files", ("frame.jpg", near_copy_of_astronaut()))])
    assert check["items"][0]["matches"][0]["asset_id"] == astronaut["id"]
    generation = admin.ok("post", "/v1/generations", 201, json={
        "model_id": trained["id"], "production": "Moonfall", "title": "Shot 12",
        "check_ids": [check["id"]]})
    unchecked = admin.ok("post", "/v1/generations", 201, json={
        "model_id": trained["id"], "production": "Moonfall", "title": "Shot 13"})
    return {"ann": ann, "bob": bob, "ann_src": ann_src, "bob_src": bob_src,
            "astronaut": astronaut, "coffee": coffee, "camera": camera, "chelsea": chelsea,
            "ann_manifest": ann_man, "bob_manifest": bob_man, "model": trained,
            "bob_only_model": bob_only, "check": check, "generation": generation,
            "unchecked": unchecked,
            "ann_key": rights_holder_key(admin, ann), "bob_key": rights_holder_key(admin, bob)}


def lineage_world(admin: Api, folder: Path) -> dict:
    """Films (Ann, CC-BY) and a mirror site (Bob, CC-BY-NC) both hold the astronaut; both
    manifests are signed and a model is trained on both, pinned to the mirror's manifest."""
    ann, bob = ann_and_bob(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")
    cc_nc = builtin_licence(admin, "CC-BY-NC-4.0")
    films = source(admin, [ann["id"]], cc_by["id"], name="Films")
    mirror = source(admin, [bob["id"]], cc_nc["id"], name="Mirror")
    assets = {"astronaut": upload(admin, films["id"], media.image("astronaut.png")),
              "coffee": upload(admin, films["id"], media.image("coffee.png")),
              "mirrored": upload(admin, mirror["id"], media.image("astronaut.png")),
              "chelsea": upload(admin, mirror["id"], media.image("chelsea.png"))}
    films_manifest, mirror_manifest = sign(admin, films, mirror)
    trained = admin.ok("post", "/v1/models", 201, json={
        "name": "Dreamer", "version": "1.0", "owner": "Example Studio",
        "trained_from": "2026-01-01", "trained_until": "2026-06-30",
        "training_sources": [{"source_id": films["id"], "weight": "0.7"},
                             {"source_id": mirror["id"], "manifest_id": mirror_manifest["id"],
                              "weight": 0.3}]})
    return {"ann": ann, "bob": bob, "films": films, "mirror": mirror, "assets": assets,
            "films_manifest": films_manifest, "mirror_manifest": mirror_manifest,
            "model": trained, "cc_by": cc_by, "cc_nc": cc_nc}


def lookup_world(admin: Api, folder: Path) -> dict:
    """Ann's stills (CC-BY) and a model trained on them, a generation whose check copied
    her coffee still, Bob's stills, and a mirror source (Bob's) holding the same coffee file."""
    ann, bob = ann_and_bob(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")
    nc = builtin_licence(admin, "CC-BY-NC-4.0")
    ann_src = source(admin, [ann["id"]], cc_by["id"], name="Ann stills")
    bob_src = source(admin, [bob["id"]], cc_by["id"], name="Bob stills")
    mirror = source(admin, [bob["id"]], nc["id"], name="Mirror")
    world = {"ann": ann, "bob": bob, "ann_src": ann_src, "bob_src": bob_src, "mirror": mirror,
             "cc_by": cc_by, "nc": nc,
             "coffee": upload(admin, ann_src["id"], media.image("coffee.png")),
             "astronaut": upload(admin, ann_src["id"], media.image("astronaut.png")),
             "chelsea": upload(admin, bob_src["id"], media.image("chelsea.png")),
             "mirrored": upload(admin, mirror["id"], media.image("coffee.png"))}
    sign(admin, ann_src, mirror)
    world["model"] = model(admin, "dreamer", "2", [(ann_src, "0.75")], owner="Lab",
                           trained_until="2026-06-30")
    generated = jpeg(Image.open(media.image("coffee.png")), scale=0.5)
    check = admin.ok("post", "/v1/checks", 201, files=[("files", ("shot.jpg", generated))])
    world["generation"] = admin.ok("post", "/v1/generations", 201, json={
        "model_id": world["model"]["id"], "production": "Short film", "title": "Shot 12",
        "check_ids": [check["id"]]})
    world["ann_key"] = rights_holder_key(admin, ann)
    world["bob_key"] = rights_holder_key(admin, bob)
    return world


def optouts_world(admin: Api, folder: Path) -> dict:
    """Ann's film stills, Bob's stills, and a crawl (held by Bob) with a copy of Ann's still."""
    ann, bob = ann_and_bob(admin)
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    ann_src = source(admin, [ann["id"]], cc_by, name="Ann stills")
    bob_src = source(admin, [bob["id"]], cc_by, name="Bob stills")
    crawl = source(admin, [bob["id"]], cc_by, name="Crawl")
    # A near copy as a crawler finds it: rescaled and re-encoded.
    crawled = folder / "coffee-copy.jpg"
    crawled.write_bytes(jpeg(Image.open(media.image("coffee.png")), quality=70, scale=0.8))
    world = {
        "ann": ann, "bob": bob, "ann_src": ann_src, "bob_src": bob_src, "crawl": crawl,
        "coffee": upload(admin, ann_src["id"], media.image("coffee.png")),
        "chelsea": upload(admin, bob_src["id"], media.image("chelsea.png")),
        "coffee_copy": upload(admin, crawl["id"], crawled),
        "rocket": upload(admin, crawl["id"], media.image("rocket.jpg")),
    }
    sign(admin, ann_src, bob_src, crawl)
    world["ann_key"] = rights_holder_key(admin, ann)
    world["bob_key"] = rights_holder_key(admin, bob)
    return world


def check_references(admin: Api, folder: Path) -> dict:
    """Blender's films source: three stills and a clip, every one fingerprinted."""
    blender = holder(admin, "Blender Foundation")
    films = source(admin, [blender["id"]], builtin_licence(admin, "CC-BY-4.0")["id"], name="Films")
    assets = {name: upload(admin, films["id"], media.image(name))
              for name in ("astronaut.png", "coffee.png", "camera.png")}
    assets["bikes.mp4"] = upload(admin, films["id"], media.clip("bikes.mp4"))
    return {"holder": blender, "source": films, "assets": assets}


def clip_scene(admin: Api, folder: Path) -> dict:
    """Big Buck Bunny (Blender, CC-BY) and a non-commercial still collection (an archive's,
    one still a painter's), a model trained on both, and a production ("Sintel Returns")
    with a generation copying a span of the film and a poster copying a still."""
    blender = holder(admin, "Blender Foundation")
    archive = holder(admin, "Stills Archive")
    painter = holder(admin, "Independent Painter", kind="person")
    films = source(admin, [blender["id"]], builtin_licence(admin, "CC-BY-4.0")["id"],
                   name="Open movies")
    stills = source(admin, [archive["id"]], builtin_licence(admin, "CC-BY-NC-4.0")["id"],
                    name="Research stills")
    bunny = upload(admin, films["id"], media.clip("bigbuckbunny.mp4"))
    coffee = upload(admin, stills["id"], media.image("coffee.png"))
    upload(admin, stills["id"], media.image("camera.png"))
    upload(admin, stills["id"], media.image("astronaut.png"), holder_id=painter["id"])
    sign(admin, films, stills)
    trained = model(admin, "DreamFrames", "1.0", [(films, "3"), (stills, "1")],
                    owner="Example Studio", trained_until="2026-10-31")
    copy = media.make_variant(media.clip("bigbuckbunny.mp4"), folder / "generated.mp4",
                              start=1.0, duration=3.0, scale=0.5, bitrate=300_000)
    with copy.open("rb") as fh:
        check = admin.ok("post", "/v1/checks", 201, files=[("files", ("generated.mp4", fh))])
    assert check["verdict"] == "copy"
    generation = admin.ok("post", "/v1/generations", 201, json={
        "model_id": trained["id"], "production": "Sintel Returns", "title": "Shot 12",
        "intended_use": "commercial_release", "check_ids": [check["id"]]})
    still = Image.open(media.image("coffee.png")).convert("RGB").resize((300, 200))
    still_check = admin.ok("post", "/v1/checks", 201,
                           files=[("files", ("poster.jpg", jpeg(still, quality=70)))])
    poster = admin.ok("post", "/v1/generations", 201, json={
        "model_id": trained["id"], "production": "Sintel Returns", "title": "Poster",
        "check_ids": [still_check["id"]]})
    return {"blender": blender, "archive": archive, "painter": painter, "films": films,
            "stills": stills, "bunny": bunny, "coffee": coffee, "model": trained,
            "copy": copy, "check": check, "generation": generation, "poster": poster}
