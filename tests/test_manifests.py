import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.core.models import utcnow
from registry.core.signing import SigningKey, VerificationKey
from registry.manifests.document import build_manifest
from registry.manifests.statement import sign_statement
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload


@pytest.fixture
def films(admin: Api) -> dict:
    blender = holder(admin, "Blender Foundation")
    films = source(admin, [blender["id"]], builtin_licence(admin, "CC-BY-4.0")["id"],
                   name="Blender open movies", version="2026.1")
    assets = [upload(admin, films["id"], media.image(name))
              for name in ("astronaut.png", "camera.png", "coffee.png")]
    assets.append(upload(admin, films["id"], media.clip("bikes.mp4")))
    return {"holder": blender, "source": films, "assets": assets}


def _save(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _keys_file(api: Api, tmp_path: Path) -> Path:
    return _save(tmp_path, "registry-keys.json", api.client.get("/.well-known/registry-keys.json").content)


def test_sign_download_verify_offline_and_prove_an_asset(admin: Api, films: dict, cli,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    manifest = admin.ok("post", f"/v1/sources/{films['source']['id']}/manifests", 201)
    assert manifest["asset_count"] == 4 and manifest["kind"] == "registry"
    envelope = admin.get(f"/v1/manifests/{manifest['id']}/envelope")
    assert envelope.headers["content-disposition"].endswith('.dsse.json"')
    envelope_file = _save(tmp_path, "manifest.dsse.json", envelope.content)
    keys = _keys_file(admin, tmp_path)

    result = cli("verify", str(envelope_file), "--key", str(keys))
    assert result.exit_code == 0, result.output
    assert "4 assets" in result.output and manifest["asset_root"] in result.output

    clip = films["assets"][-1]
    proof = admin.ok("get", f"/v1/manifests/{manifest['id']}/assets/{clip['id']}/proof")
    assert proof["entry"]["sha256"] == clip["sha256"]
    proof_file = _save(tmp_path, "proof.json", json.dumps(proof))
    result = cli("verify", str(envelope_file), "--key", str(keys), "--asset-proof", str(proof_file))
    assert result.exit_code == 0, result.output
    assert f"asset {clip['id']}" in result.output

    # The statement is in-toto v1 with one subject per asset digest.
    statement = json.loads(base64.b64decode(json.loads(envelope.content)["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert {s["digest"]["sha256"] for s in statement["subject"]} == {a["sha256"] for a in films["assets"]}
    assert statement["predicate"]["licences"][0]["identifier"] == "CC-BY-4.0"
    # The signed bytes are exactly the RFC 8785 form of the statement.
    assert base64.b64decode(json.loads(envelope.content)["payload"]) == rfc8785.dumps(statement)

    proof["entry"]["sha256"] = films["assets"][0]["sha256"]
    forged = _save(tmp_path, "forged.json", json.dumps(proof))
    result = cli("verify", str(envelope_file), "--key", str(keys), "--asset-proof", str(forged))
    assert result.exit_code == 1 and "inclusion proof fails" in result.output


def test_tampered_or_foreign_manifests_fail(admin: Api, films: dict, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = admin.ok("post", f"/v1/sources/{films['source']['id']}/manifests", 201)
    envelope = json.loads(admin.get(f"/v1/manifests/{manifest['id']}/envelope").content)
    keys = _keys_file(admin, tmp_path)

    payload = base64.b64decode(envelope["payload"])
    urlsafe = dict(envelope, payload=base64.urlsafe_b64encode(payload).decode().rstrip("="))
    result = cli("verify", str(_save(tmp_path, "urlsafe.json", json.dumps(urlsafe))), "--key", str(keys))
    assert result.exit_code == 0, result.output

    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[len(payload) // 2] ^= 0x01
    flipped = dict(envelope, payload=base64.b64encode(bytes(payload)).decode())
    result = cli("verify", str(_save(tmp_path, "flipped.json", json.dumps(flipped))), "--key", str(keys))
    assert result.exit_code == 1 and "INVALID" in result.output

    stranger = VerificationKey("provenance-registry.local/log",
                               Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    from registry.auditlog.checkpoint import format_vkey
    wrong_keys = _save(tmp_path, "wrong.vkey", format_vkey(stranger.key_name, stranger.public_key_bytes))
    envelope_file = _save(tmp_path, "manifest.json", json.dumps(envelope))
    result = cli("verify", str(envelope_file), "--key", str(wrong_keys))
    assert result.exit_code == 1
    result = cli("verify", str(_save(tmp_path, "junk.json", b"{not json")), "--key", str(keys))
    assert result.exit_code == 1


def test_rotation_keeps_old_signatures_and_rejects_late_ones(admin: Api, films: dict, cli,  # type: ignore[no-untyped-def]
                                                             settings, tmp_path: Path) -> None:
    from registry.core.db import standalone_session
    from registry.signingkeys.service import load_keyring

    before = admin.ok("post", f"/v1/sources/{films['source']['id']}/manifests", 201)
    with standalone_session(settings.effective_database_url) as session:
        old_key = load_keyring(session, settings).active_signer()
    rotated = admin.ok("post", "/v1/signing-keys/rotate")
    assert rotated["key_id"] != before["key_id"]
    after = admin.ok("post", f"/v1/sources/{films['source']['id']}/manifests", 201)
    assert after["key_id"] == rotated["key_id"]

    keys = _keys_file(admin, tmp_path)
    listed = json.loads(keys.read_text())["keys"]
    assert [k["not_after"] is not None for k in listed] == [True, False]
    for manifest in (before, after):
        envelope = _save(tmp_path, f"{manifest['id']}.json",
                         admin.get(f"/v1/manifests/{manifest['id']}/envelope").content)
        result = cli("verify", str(envelope), "--key", str(keys))
        assert result.exit_code == 0, result.output

    # Someone holding the retired key signs a "new" manifest after its window closed.
    statement, _, _ = build_manifest(
        registry_origin=settings.log_origin, issued_at=utcnow() + timedelta(seconds=1),
        source={"id": films["source"]["id"]}, licences=[], rights_holders=[],
        assets=[{"asset_id": a["id"], "sha256": a["sha256"]} for a in films["assets"]])
    late = _save(tmp_path, "late.json", json.dumps(sign_statement(statement, [old_key])))
    result = cli("verify", str(late), "--key", str(keys))
    assert result.exit_code == 1
    assert "retired key after its window" in result.output


def test_holder_signed_manifest_is_accepted_only_with_its_key(admin: Api, films: dict) -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    holder_id = films["holder"]["id"]
    admin.ok("patch", f"/v1/holders/{holder_id}",
             json={"public_keys": [{"label": "studio", "ed25519": base64.b64encode(public).decode()}]})
    signer = SigningKey(VerificationKey(holder_id, public, None, None), private)
    statement, _, _ = build_manifest(
        registry_origin="blender.org", issued_at=utcnow(),
        source={"id": films["source"]["id"], "name": "Blender open movies"}, licences=[],
        rights_holders=[], assets=[{"asset_id": a["id"], "sha256": a["sha256"]} for a in films["assets"]])
    envelope = sign_statement(statement, [signer])

    owner = admin.make_key("rights_holder", holder_id=holder_id)
    stored = owner.ok("post", f"/v1/sources/{films['source']['id']}/manifests/submitted", 201,
                      json={"envelope": envelope})
    assert stored["kind"] == "submitted" and stored["holder_id"] == holder_id

    stranger = Ed25519PrivateKey.generate()
    bad_signer = SigningKey(VerificationKey(holder_id, stranger.public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw), None, None), stranger)
    response = owner.post(f"/v1/sources/{films['source']['id']}/manifests/submitted",
                          json={"envelope": sign_statement(statement, [bad_signer])})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    malformed = owner.post(f"/v1/sources/{films['source']['id']}/manifests/submitted",
                           json={"envelope": {"payload": "!!", "payloadType": 3, "signatures": []}})
    assert malformed.status_code == 422


def test_manifest_roles_and_scope(admin: Api, auditor: Api, films: dict) -> None:
    manifest = admin.ok("post", f"/v1/sources/{films['source']['id']}/manifests", 201)
    assert auditor.post(f"/v1/sources/{films['source']['id']}/manifests").status_code == 403
    assert auditor.ok("get", f"/v1/manifests/{manifest['id']}")["id"] == manifest["id"]
    other = holder(admin, "Someone else")
    outsider = admin.make_key("rights_holder", holder_id=other["id"])
    assert outsider.get(f"/v1/manifests/{manifest['id']}").status_code == 404
    assert admin.get("/v1/manifests/man_unknown").status_code == 404
    empty = source(admin, [other["id"]], builtin_licence(admin, "CC0-1.0")["id"], name="Empty")
    assert admin.post(f"/v1/sources/{empty['id']}/manifests").status_code == 409
