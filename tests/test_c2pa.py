"""C2PA at ingest: an uploaded file's embedded manifest is read offline, "valid" and
"trusted" recorded apart, its training-mining terms imported and honoured by evaluation.
Sample images are signed in the tests with a throwaway chain (tests/c2pa_signing.py)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from registry.core.config import Settings
from tests import media
from tests.c2pa_signing import COMMENT, SigningChain, make_chain, rewrite_chunk, sign_png, training_mining
from tests.conftest import TEST_PASSPHRASE, Api
from tests.factories import builtin_licence, holder, source, upload

FORBIDS_TRAINING = training_mining({
    "cawg.ai_training": {"use": "notAllowed"},
    "cawg.ai_generative_training": {"use": "notAllowed"},
    "cawg.ai_inference": {"use": "constrained", "constraint_info": "ask first"},
    "cawg.data_mining": {"use": "allowed"},
})


@pytest.fixture(scope="module")
def chain() -> SigningChain:
    return make_chain()


@pytest.fixture
def trusted_root() -> bool:
    """Whether the deployment lists the test chain's root as a C2PA trust anchor
    (a test parametrizes it to True)."""
    return False


@pytest.fixture
def settings(database_url: str, tmp_path: Path, chain: SigningChain, trusted_root: bool) -> Settings:
    anchors = None
    if trusted_root:
        anchors = tmp_path / "c2pa-anchors.pem"
        anchors.write_bytes(chain.root_pem)
    return Settings(environment="test", data_dir=tmp_path / "data", database_url=database_url,
                    key_passphrase=TEST_PASSPHRASE, c2pa_trust_anchors=anchors)


def _source(api: Api, licence: str = "CC-BY-4.0", name: str = "Stills") -> dict:
    return source(api, [holder(api, f"{name} holder")["id"]], builtin_licence(api, licence)["id"],
                  name=name)


def _evaluate(api: Api, source_id: str, use: str = "commercial_training") -> dict:
    return api.ok("post", "/v1/evaluations", json={"source_ids": [source_id], "use": use})


def _signed(tmp_path: Path, chain: SigningChain, *assertions: dict, name: str = "signed.png") -> Path:
    return sign_png(media.image("chelsea.png"), tmp_path / name, chain, list(assertions))


def test_a_signed_file_forbidding_training_is_imported_and_denies_evaluation(
        admin: Api, tmp_path: Path, chain: SigningChain) -> None:
    stills = _source(admin)
    asset = upload(admin, stills["id"], _signed(tmp_path, chain, FORBIDS_TRAINING))
    c2pa = asset["c2pa"]
    assert (c2pa["state"], c2pa["trusted"], c2pa["ai_training"]) == ("valid", False, "not_allowed")
    assert c2pa["manifest_label"].startswith("urn:c2pa:")
    assert c2pa["claim_generator"] == "registry-tests 1.0"
    assert (c2pa["signer_name"], c2pa["signer_issuer"]) == ("Test Signer", "Test Studio CA")
    assert c2pa["training_terms"] == [
        {"entry": "cawg.ai_generative_training", "use": "notAllowed", "constraint_info": None},
        {"entry": "cawg.ai_inference", "use": "constrained", "constraint_info": "ask first"},
        {"entry": "cawg.ai_training", "use": "notAllowed", "constraint_info": None},
        {"entry": "cawg.data_mining", "use": "allowed", "constraint_info": None}]
    assert c2pa["detail"] is None
    assert admin.ok("get", f"/v1/assets/{asset['id']}")["c2pa"] == c2pa

    for use in ("commercial_training", "noncommercial_research"):  # every use trains
        result = _evaluate(admin, stills["id"], use)
        assert result["verdict"] == "denied"
        [reason] = result["reasons"]
        assert (reason["code"], reason["asset_id"]) == ("c2pa_training_not_allowed", asset["id"])
        assert "an untrusted signer" in reason["message"] and "Test Signer" in reason["message"]

    admin.ok("post", f"/v1/assets/{asset['id']}/retire", json={"reason": "withdrawn"})
    assert _evaluate(admin, stills["id"])["verdict"] == "conditional"  # CC BY: attribution only


def test_the_signer_of_another_holders_work_is_not_named_to_a_rights_holder(
        admin: Api, tmp_path: Path, chain: SigningChain) -> None:
    studio, artist = holder(admin, "Studio"), holder(admin, "Artist")
    films = source(admin, [studio["id"]], builtin_licence(admin, "CC-BY-4.0")["id"], name="Films")
    work = upload(admin, films["id"], _signed(tmp_path, chain, FORBIDS_TRAINING),
                  holder_id=artist["id"])
    for holder_id, named in ((studio["id"], False), (artist["id"], True)):
        reader = admin.make_key("rights_holder", holder_id)
        [reason] = _evaluate(reader, films["id"])["reasons"]
        assert (reason["code"], reason["asset_id"]) == ("c2pa_training_not_allowed", work["id"])
        assert ("Test Signer" in reason["message"]) is named


@pytest.mark.parametrize("trusted_root", [True])
def test_a_signer_chaining_to_a_configured_anchor_is_trusted(admin: Api, tmp_path: Path,
                                                             chain: SigningChain) -> None:
    stills = _source(admin)
    asset = upload(admin, stills["id"], _signed(tmp_path, chain, FORBIDS_TRAINING))
    assert (asset["c2pa"]["state"], asset["c2pa"]["trusted"]) == ("valid", True)
    [reason] = _evaluate(admin, stills["id"])["reasons"]
    assert "a trusted signer" in reason["message"]
    # another chain's signer stays untrusted (and valid)
    other = upload(admin, stills["id"], sign_png(media.image("coffee.png"), tmp_path / "other.png",
                                                 make_chain("Someone Else"), [FORBIDS_TRAINING]))
    assert (other["c2pa"]["state"], other["c2pa"]["trusted"]) == ("valid", False)


def test_constrained_counts_as_not_allowed_unless_the_licence_says_more(
        admin: Api, tmp_path: Path, chain: SigningChain) -> None:
    # The older C2PA label and entry names are read as well.
    constrained = _signed(tmp_path, chain, training_mining(
        {"c2pa.ai_training": {"use": "constrained", "constraint_info": "research only"}},
        label="c2pa.training-mining"))
    open_licence = _source(admin, "CC-BY-4.0", "Open")  # allows AI training: says more
    asset = upload(admin, open_licence["id"], constrained)
    assert asset["c2pa"]["ai_training"] == "constrained"
    assert asset["c2pa"]["training_terms"] == [
        {"entry": "c2pa.ai_training", "use": "constrained", "constraint_info": "research only"}]
    result = _evaluate(admin, open_licence["id"])
    assert result["verdict"] == "conditional"
    constraint = next(o for o in result["obligations"] if o["kind"] == "training_constraint")
    assert asset["id"] in constraint["text"] and "research only" in constraint["text"]

    closed = _source(admin, "LicenseRef-All-Rights-Reserved", "Closed")  # does not
    asset = upload(admin, closed["id"], constrained)
    result = _evaluate(admin, closed["id"], "noncommercial_research")
    assert result["verdict"] == "denied"
    assert {(r["code"], r["asset_id"]) for r in result["reasons"]} == {
        ("c2pa_training_constrained", asset["id"]), ("ai_training_not_allowed", None)}

    allowed = _signed(tmp_path, chain, training_mining({"cawg.ai_training": {"use": "allowed"}}),
                      name="allowed.png")
    third = _source(admin, "CC-BY-4.0", "Allowed")
    assert upload(admin, third["id"], allowed)["c2pa"]["ai_training"] == "allowed"
    result = _evaluate(admin, third["id"])
    assert (result["verdict"], [o["kind"] for o in result["obligations"]]) == ("conditional", ["attribution"])


def test_a_tampered_or_corrupt_manifest_is_invalid_and_not_imported(
        admin: Api, tmp_path: Path, chain: SigningChain) -> None:
    stills = _source(admin)
    tampered = rewrite_chunk(_signed(tmp_path, chain, FORBIDS_TRAINING), b"tEXt",
                             lambda body: body.replace(COMMENT.encode(), COMMENT.upper().encode()))
    asset = upload(admin, stills["id"], tampered)
    c2pa = asset["c2pa"]
    assert (c2pa["state"], c2pa["trusted"], c2pa["ai_training"], c2pa["training_terms"]) == (
        "invalid", False, None, [])
    assert "assertion.dataHash.mismatch" in c2pa["detail"]
    assert c2pa["signer_name"] == "Test Signer"  # what it claims, recorded, but not believed

    def garble(body: bytes) -> bytes:
        return body[:10] + bytes([body[10] ^ 0xFF]) + body[11:]

    corrupt = rewrite_chunk(_signed(tmp_path, chain, FORBIDS_TRAINING, name="corrupt.png"), b"caBX",
                            garble)
    asset = upload(admin, stills["id"], corrupt)
    assert (asset["c2pa"]["state"], asset["c2pa"]["ai_training"]) == ("invalid", None)
    assert asset["c2pa"]["detail"]
    assert _evaluate(admin, stills["id"])["verdict"] == "conditional"  # nothing denies


def test_a_file_without_c2pa_has_state_none(admin: Api) -> None:
    stills = _source(admin)
    for path in (media.image("chelsea.png"), media.clip("bikes.mp4")):
        assert upload(admin, stills["id"], path)["c2pa"] == {
            "state": "none", "trusted": False, "manifest_label": None, "claim_generator": None,
            "signer_issuer": None, "signer_name": None, "ai_training": None,
            "training_terms": [], "detail": None}


class _Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the handler's name)
        self.requests.append(self.path)
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


def test_a_remote_manifest_is_never_fetched(admin: Api, tmp_path: Path, chain: SigningChain) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/manifest.c2pa"
        remote = sign_png(media.image("chelsea.png"), tmp_path / "remote.png", chain,
                          [FORBIDS_TRAINING], remote_url=url)
        asset = upload(admin, _source(admin)["id"], remote)
    finally:
        server.shutdown()
        server.server_close()
    assert (asset["c2pa"]["state"], asset["c2pa"]["ai_training"]) == ("unverified", None)
    assert url in asset["c2pa"]["detail"] and "does not fetch" in asset["c2pa"]["detail"]
    assert _Recorder.requests == []


def test_folder_ingest_reads_the_manifest(admin: Api, cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                          chain: SigningChain) -> None:
    stills = _source(admin)
    folder = tmp_path / "folder"
    folder.mkdir()
    _signed(folder, chain, FORBIDS_TRAINING)
    result = cli("ingest", str(folder), "--source", stills["id"], "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    [asset] = admin.ok("get", "/v1/assets", params={"source_id": stills["id"]})["items"]
    assert (asset["c2pa"]["state"], asset["c2pa"]["ai_training"]) == ("valid", "not_allowed")


def test_trust_anchors_that_are_not_certificates_are_refused_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "anchors.pem"
    bad.write_text("not a certificate")
    for path in (bad, tmp_path / "missing.pem"):
        with pytest.raises(ValidationError, match="REGISTRY_C2PA_TRUST_ANCHORS"):
            Settings(environment="test", data_dir=tmp_path, c2pa_trust_anchors=path)
