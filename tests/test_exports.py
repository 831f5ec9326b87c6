"""Audit export through the HTTP API and the CLI, on a small real registry."""

import base64
import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from registry.auditlog import merkle
from registry.auditlog.client import open_checkpoint
from registry.manifests.verify import load_keys
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload

LICENCE = {"identifier": "LicenseRef-Export-Test", "name": "Export test licence",
           "commercial_use": True, "derivatives": True, "attribution_required": True,
           "ai_training": "allowed", "currency": "EUR", "fee_flat": "10.00"}
FORMATS = ("jsonl", "json", "csv")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _parse(fmt: str, body: bytes) -> tuple[list[dict], list[dict], dict]:
    """(entries, records, trailer) in one shape, whatever the format."""
    text = body.decode()
    if fmt == "json":
        doc = json.loads(text)
        return doc["entries"], doc["records"], doc["trailer"]
    if fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        assert tuple(reader.fieldnames or ()) == ("section", "entity_type", "entity_id", "idx",
                                                  "recorded_at", "actor", "action",
                                                  "leaf_hash", "data")
        rows = []
        for row in reader:
            out: dict[str, Any] = {k: v for k, v in row.items() if k != "data"}
            if row["section"] == "entry":
                out["payload"] = row["data"]
            elif row["section"] == "record":
                out["data"] = json.loads(row["data"])
            else:
                out = json.loads(row["data"])
                assert int(row["idx"]) == out["tree_size"]
            if row["section"] != "trailer":
                out["idx"] = int(row["idx"])
            rows.append(out)
    assert rows[-1]["section"] == "trailer", "a complete export ends with its trailer"
    entries = [r for r in rows if r["section"] == "entry"]
    records = [r for r in rows if r["section"] == "record"]
    assert len(entries) + len(records) + 1 == len(rows)
    return entries, records, rows[-1]


def _export(api: Api, fmt: str, since: datetime, until: datetime) -> bytes:
    response = api.get("/v1/exports/audit",
                       params={"since": _iso(since), "until": _iso(until), "format": fmt})
    assert response.status_code == 200, response.text
    expected = {"jsonl": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}[fmt]
    assert response.headers["content-type"].startswith(expected)
    assert "attachment" in response.headers["content-disposition"]
    return response.content


@pytest.fixture
def registry_in_period(admin: Api) -> dict[str, Any]:
    """A holder, a custom licence, a source, an uploaded image and a retirement."""
    since = datetime.now(UTC)
    owner = holder(admin, "Export Pictures")
    licence = admin.ok("post", "/v1/licences", 201, json=LICENCE)
    films = source(admin, [owner["id"]], builtin_licence(admin, "CC-BY-4.0")["id"], name="Stills")
    kept = upload(admin, films["id"], media.image("astronaut.png"))
    retired = upload(admin, films["id"], media.image("coffee.png"))
    admin.ok("post", f"/v1/assets/{retired['id']}/retire", json={"reason": "takedown"})
    until = datetime.now(UTC) + timedelta(seconds=1)
    return {"since": since, "until": until, "holder": owner, "licence": licence,
            "source": films, "kept": kept, "retired": retired}


def test_export_in_every_format_ties_to_the_log(admin: Api, auditor: Api, cli,  # type: ignore[no-untyped-def]
                                                registry_in_period: dict, tmp_path: Path) -> None:
    world = registry_in_period
    since, until = world["since"], world["until"]
    bodies = {fmt: _export(auditor, fmt, since, until) for fmt in FORMATS}
    for fmt in FORMATS:  # the CLI writes the very same bytes
        out = tmp_path / f"audit.{fmt}"
        result = cli("export", "audit", "--since", _iso(since), "--until", _iso(until),
                     "--format", fmt, "--out", str(out), "--no-progress")
        assert result.exit_code == 0, result.output
        assert "log entries and" in result.stdout
        assert out.read_bytes() == bodies[fmt], fmt
        assert not (tmp_path / f"audit.{fmt}.part").exists()

    parsed = {fmt: _parse(fmt, body) for fmt, body in bodies.items()}
    entries, records, trailer = parsed["jsonl"]
    for fmt in ("json", "csv"):
        assert parsed[fmt] == parsed["jsonl"], fmt

    # Exactly the log's entries of the period, each one checkable against its leaf hash.
    logged, after = [], -1
    while after is not None:
        page = admin.ok("get", "/v1/log/entries", params={"after": after, "limit": 100})
        logged += page["items"]
        after = page["next_after"]
    in_period = [e for e in logged
                 if since <= datetime.fromisoformat(e["recorded_at"]) < until]
    assert [e["idx"] for e in entries] == [e["idx"] for e in in_period]
    assert {e["action"] for e in entries} >= {"rights_holder.created", "licence.created",
                                              "source.created", "asset.registered", "asset.retired"}
    for entry, log_entry in zip(entries, in_period):
        payload = entry["payload"].encode()
        assert hashlib.sha256(b"\x00" + payload).hexdigest() == entry["leaf_hash"]
        assert entry["leaf_hash"] == log_entry["leaf_hash"]
        decoded = json.loads(payload)
        assert decoded["data"] == log_entry["data"]
        assert {k: decoded[k] for k in ("idx", "actor", "action", "entity_type", "entity_id")} \
            == {k: entry[k] for k in ("idx", "actor", "action", "entity_type", "entity_id")}

    # The current state of every record changed in the period, equal to its latest entry.
    by_id = {(r["entity_type"], r["entity_id"]): r for r in records}
    assert set(by_id) == {(e["entity_type"], e["entity_id"]) for e in entries}
    for entity_type, key in (("rights_holder", "holder"), ("licence", "licence"),
                             ("source", "source"), ("asset", "kept"), ("asset", "retired")):
        assert (entity_type, world[key]["id"]) in by_id
    assert by_id[("asset", world["retired"]["id"])]["data"]["retired_at"]
    assert by_id[("asset", world["kept"]["id"])]["data"]["retired_at"] is None
    assert by_id[("source", world["source"]["id"])]["data"]["holder_ids"] == [world["holder"]["id"]]
    payloads = {e["idx"]: json.loads(e["payload"]) for e in entries}
    for record in records:
        assert record["data"] == payloads[record["idx"]]["data"]
        assert payloads[record["idx"]]["entity_id"] == record["entity_id"]
    assert trailer["entries"] == len(entries) and trailer["records"] == len(records)
    assert sum(trailer["records_by_type"].values()) == len(records)

    # The trailer's checkpoint is signed by the registry and covers every exported entry.
    keys = load_keys(admin.client.get("/.well-known/registry-keys.json").text)
    checkpoint = open_checkpoint(trailer["checkpoint"], keys)
    assert checkpoint.size == trailer["tree_size"] > max(e["idx"] for e in entries)
    assert base64.b64encode(checkpoint.root).decode() == trailer["root"]
    for entry in (entries[0], entries[-1]):
        proof = admin.ok("get", "/v1/log/proofs/inclusion",
                         params={"idx": entry["idx"], "tree_size": checkpoint.size})
        merkle.verify_inclusion(bytes.fromhex(entry["leaf_hash"]), entry["idx"], checkpoint.size,
                                [base64.b64decode(h) for h in proof["proof"]], checkpoint.root)


def test_period_outside_the_changes_exports_nothing_but_the_trailer(  # type: ignore[no-untyped-def]
        admin: Api, registry_in_period: dict, cli, tmp_path: Path) -> None:
    before = registry_in_period["since"] - timedelta(days=3650)
    for fmt in FORMATS:
        entries, records, trailer = _parse(fmt, _export(admin, fmt, before,
                                                        before + timedelta(days=1)))
        assert entries == [] and records == []
        assert (trailer["entries"], trailer["records"], trailer["records_by_type"]) == (0, 0, {})
        assert trailer["checkpoint"].startswith("provenance-registry.local/log\n")
    # An empty period (since == until) is valid and empty too.
    now = datetime.now(UTC)
    assert _parse("jsonl", _export(admin, "jsonl", now, now))[:2] == ([], [])
    out = tmp_path / "empty.csv"
    result = cli("export", "audit", "--since", "2001-01-01T00:00:00Z", "--until",
                 "2001-01-02T00:00:00+02:00", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert _parse("csv", out.read_bytes())[:2] == ([], [])


def test_only_admins_and_auditors_export(admin: Api, curator: Api, auditor: Api) -> None:
    owner = holder(admin, "Some holder")
    rights_holder = admin.make_key("rights_holder", holder_id=owner["id"])
    params = {"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    for api in (curator, rights_holder):
        response = api.get("/v1/exports/audit", params=params)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    assert admin.client.get("/v1/exports/audit", params=params).status_code == 401
    for api in (auditor, admin):
        body = api.get("/v1/exports/audit", params=params)
        assert body.status_code == 200
        _, records, _ = _parse("jsonl", body.content)
        assert ("rights_holder", owner["id"]) in {(r["entity_type"], r["entity_id"]) for r in records}
        # secrets never leave the registry, not even hashed
        assert all("secret_hash" not in r["data"] for r in records if r["entity_type"] == "api_key")


@pytest.mark.parametrize("params", [
    {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},   # reversed
    {"since": "2026-01-01T00:00:00", "until": "2026-02-01T00:00:00Z"},    # no time zone
    {"since": "yesterday", "until": "2026-02-01T00:00:00Z"},
    {"until": "2026-02-01T00:00:00Z"},                                      # missing
    {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z", "format": "xml"},
    {"since": "0001-01-01T00:00:00+01:00", "until": "2026-02-01T00:00:00Z"},  # before year 1 in UTC
])
def test_bad_periods_are_problems(auditor: Api, params: dict) -> None:
    response = auditor.get("/v1/exports/audit", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_cli_refuses_bad_periods(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x.jsonl"
    for since, until in (("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"),
                         ("2026-01-01", "2026-02-01T00:00:00Z"),
                         ("2026-01-01T00:00:00Z", "soon")):
        result = cli("export", "audit", "--since", since, "--until", until, "--out", str(out))
        assert result.exit_code == 2, result.output
        assert "error:" in result.stderr
    assert not out.exists()
