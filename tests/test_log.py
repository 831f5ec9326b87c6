import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry.auditlog.client import LogVerificationError, check_consistency, check_entry
from registry.manifests.verify import load_keys
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload


def _keys(client):  # type: ignore[no-untyped-def]
    return load_keys(client.get("/.well-known/registry-keys.json").text)


def _checkpoint(client) -> str:  # type: ignore[no-untyped-def]
    response = client.get("/v1/log/checkpoint")  # public: no key needed
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return response.text


def test_checkpoints_entries_and_consistency(admin: Api, auditor: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = admin.client
    keys = _keys(client)
    first = _checkpoint(client)
    origin, size, _root = first.split("\n")[:3]
    assert origin == "provenance-registry.local/log" and int(size) > 0
    assert "\n\n\u2014 provenance-registry.local/log " in first

    made = holder(admin, "Logged holder")
    second = _checkpoint(client)
    new_size = int(second.split("\n")[1])
    assert new_size == int(size) + 1

    proof = client.get("/v1/log/proofs/consistency", params={"first": size, "second": new_size}).json()
    old_cp, new_cp = check_consistency(first, second, proof, keys)
    assert (old_cp.size, new_cp.size) == (int(size), new_size)
    files = {name: tmp_path / name for name in ("old.txt", "new.txt", "proof.json", "keys.json")}
    files["old.txt"].write_text(first)
    files["new.txt"].write_text(second)
    files["proof.json"].write_text(json.dumps(proof))
    files["keys.json"].write_text(client.get("/.well-known/registry-keys.json").text)
    result = cli("log", "consistency", "--key", str(files["keys.json"]), "--old",
                 str(files["old.txt"]), "--new", str(files["new.txt"]), "--proof", str(files["proof.json"]))
    assert result.exit_code == 0, result.output
    # Swapped checkpoints (a shrinking log) and a doctored proof are refused.
    with pytest.raises(LogVerificationError, match="shrank"):
        check_consistency(second, first, proof, keys)
    doctored = dict(proof, proof=list(reversed(proof["proof"])) + proof["proof"][:1])
    with pytest.raises(LogVerificationError):
        check_consistency(first, second, doctored, keys)

    [entry_ref] = auditor.ok("get", "/v1/log/entries", params={"entity_id": made["id"]})["items"]
    proven = auditor.ok("get", f"/v1/log/entries/{entry_ref['idx']}")
    payload = check_entry(proven, keys)
    assert payload["entity_id"] == made["id"] and payload["data"]["name"] == "Logged holder"
    proven["payload"] = proven["payload"][:-4] + "AAA="
    with pytest.raises((LogVerificationError, ValueError)):
        check_entry(proven, keys)
    assert admin.get("/v1/log/entries/999999").status_code == 404
    assert client.get("/v1/log/proofs/inclusion", params={"idx": 5, "tree_size": 10**9}).status_code == 422
    assert client.get("/v1/log/entries/0").status_code == 401


def test_proofs_from_the_database_match_the_verifiers(admin: Api) -> None:
    for i in range(12):
        holder(admin, f"Holder {i}")
    client = admin.client
    size = int(_checkpoint(client).split("\n")[1])
    import base64

    from registry.auditlog import merkle
    for tree_size in (1, 2, 7, 8, 13, size):
        for idx in {0, tree_size // 2, tree_size - 1}:
            proof = client.get("/v1/log/proofs/inclusion", params={"idx": idx, "tree_size": tree_size}).json()
            merkle.verify_inclusion(base64.b64decode(proof["leaf_hash"]), idx, tree_size,
                                    [base64.b64decode(h) for h in proof["proof"]], base64.b64decode(proof["root"]))
    for first in (1, 3, 8, size - 1):
        proof = client.get("/v1/log/proofs/consistency", params={"first": first, "second": size}).json()
        merkle.verify_consistency(first, size, [base64.b64decode(h) for h in proof["proof"]],
                                  base64.b64decode(proof["first_root"]), base64.b64decode(proof["second_root"]))


@pytest.fixture
def populated(admin: Api) -> dict:
    owner = holder(admin, "Blender Foundation", contact="rights@blender.org")
    cc_by = builtin_licence(admin, "CC-BY-4.0")
    films = source(admin, [owner["id"]], cc_by["id"], name="Films")
    stills = source(admin, [owner["id"]], cc_by["id"], name="Stills")
    upload(admin, films["id"], media.image("astronaut.png"))
    upload(admin, stills["id"], media.image("camera.png"))
    manifests = [admin.ok("post", f"/v1/sources/{s['id']}/manifests", 201) for s in (films, stills)]
    _checkpoint(admin.client)  # publish a checkpoint, as a monitor would have seen it
    return {"holder": owner, "films": films, "manifests": manifests}


def _tamper(settings, *statements: str, **params) -> None:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(settings.effective_database_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement), params)
    engine.dispose()


def _verify_log(cli) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    result = cli("verify-log")
    return result.exit_code, result.output


def test_untouched_registry_verifies(populated: dict, cli) -> None:  # type: ignore[no-untyped-def]
    code, output = _verify_log(cli)
    assert code == 0, output
    assert "log and database agree" in output


def test_edited_row_is_reported_with_record_and_field(populated: dict, cli, settings) -> None:  # type: ignore[no-untyped-def]
    _tamper(settings, "UPDATE rights_holder SET contact = 'attacker@example.org' WHERE id = :id",
            id=populated["holder"]["id"])
    code, output = _verify_log(cli)
    assert code == 1
    assert f"rights_holder {populated['holder']['id']}" in output
    assert "contact: log 'rights@blender.org', database 'attacker@example.org'" in output


def test_deleted_log_entry_is_reported(populated: dict, cli, settings) -> None:  # type: ignore[no-untyped-def]
    _tamper(settings, "DELETE FROM log_entry WHERE idx = 5")
    code, output = _verify_log(cli)
    assert code == 1
    assert "[sequence] entry 6: entries 5..5 are missing" in output
    assert "history rewritten" in output or "log truncated" in output


def test_reordered_entries_are_reported(populated: dict, cli, settings) -> None:  # type: ignore[no-untyped-def]
    _tamper(settings,
            "UPDATE log_entry SET idx = -1 WHERE idx = 3",
            "UPDATE log_entry SET idx = 3 WHERE idx = 4",
            "UPDATE log_entry SET idx = 4 WHERE idx = -1")
    code, output = _verify_log(cli)
    assert code == 1
    assert "[order] entry 3: payload was written as entry 4" in output
    assert "[order] entry 4: payload was written as entry 3" in output
    assert "history rewritten" in output


def test_rewritten_entry_with_recomputed_hash_is_reported(populated: dict, cli, settings) -> None:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(settings.effective_database_url)
    with engine.begin() as conn:
        payload = conn.execute(sa.text("SELECT payload FROM log_entry WHERE idx = 2")).scalar_one()
        forged = bytes(payload).replace(b'"name":"', b'"name":"X', 1)
        from registry.auditlog.merkle import leaf_hash
        conn.execute(sa.text("UPDATE log_entry SET payload = :p, leaf_hash = :h WHERE idx = 2"),
                     {"p": forged, "h": leaf_hash(forged)})
    engine.dispose()
    code, output = _verify_log(cli)
    assert code == 1
    assert "stored Merkle node (0, 2) differs" in output
    assert "history rewritten" in output


def test_substituted_manifest_is_reported(populated: dict, cli, settings) -> None:  # type: ignore[no-untyped-def]
    films, stills = populated["manifests"]
    _tamper(settings, "UPDATE manifest SET envelope = (SELECT envelope FROM manifest WHERE id = :b) "
                      "WHERE id = :a", a=films["id"], b=stills["id"])
    code, output = _verify_log(cli)
    assert code == 1
    assert f"manifest {films['id']}: signed payload differs from the logged digest" in output


def test_edited_checkpoint_root_is_reported(populated: dict, admin: Api, cli, settings) -> None:  # type: ignore[no-untyped-def]
    _tamper(settings, "UPDATE log_checkpoint SET root = (SELECT hash FROM log_node LIMIT 1)")
    code, output = _verify_log(cli)
    assert code == 1
    assert "stored size or root differs from the signed note's (the row was edited)" in output
    # Nor is the edited root published: exports and proofs refuse it rather than sign off on it.
    export = admin.get("/v1/exports/audit", params={"since": "2000-01-01T00:00:00Z",
                                                    "until": "2100-01-01T00:00:00Z"})
    assert export.status_code == 503, export.text
    assert export.headers["content-type"] == "application/problem+json"
    assert "does not match its signed note" in export.json()["detail"]
    assert admin.get("/v1/log/entries/0").status_code == 503


def test_deleted_checkpoints_are_reported(populated: dict, admin: Api, cli, settings) -> None:  # type: ignore[no-untyped-def]
    first = int(_checkpoint(admin.client).splitlines()[1])
    holder(admin, "Second holder")
    middle = int(_checkpoint(admin.client).splitlines()[1])
    holder(admin, "Third holder")
    latest = int(_checkpoint(admin.client).splitlines()[1])
    assert first < middle < latest and _verify_log(cli)[0] == 0
    _tamper(settings, "DELETE FROM log_checkpoint WHERE size = :s", s=middle)
    code, output = _verify_log(cli)
    assert code == 1
    assert (f"checkpoint {latest} follows checkpoint {middle}, but the one stored before it "
            f"is {first} (a checkpoint was deleted)") in output
    _tamper(settings, "DELETE FROM log_checkpoint WHERE size = :s", s=latest)
    code, output = _verify_log(cli)
    assert code == 1
    assert (f"the log head names checkpoint {latest} as the latest signed, but the latest "
            f"stored is {first} (a checkpoint was deleted)") in output
