"""Opt-out signal evidence: each format read into a term, the evaluation denial, refusals."""

import hashlib

import pytest
import rfc8785
from sqlmodel import Session

from registry.signals.service import signal_evidence
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload

SEEN = "2026-05-01T09:30:00Z"
SITE = "https://films.example"
TDMREP = """[
  {"location": "/stills/*", "tdm-reservation": 1, "tdm-policy": "https://films.example/tdm-policy.json"},
  {"location": "/*", "tdm-reservation": 1}
]"""

# (kind, evidence, extra fields, expected term, the deciding findings as (signal, purpose))
FORMATS = [
    ("robots_txt", "User-agent: *\nAllow: /\nContent-Usage: train-ai=n, search=y\n", {},
     "not_allowed", {("content_usage", "train-ai")}),
    ("robots_txt", "User-agent: *\nAllow: /\nContent-Usage: train-ai=n\nContent-Usage: /open train-ai=y\n",
     {"path": "/open/clips"}, "allowed", {("content_usage", "train-ai")}),
    ("robots_txt", "User-Agent: *\nContent-Signal: search=yes, ai-train=no, ai-input=no\nAllow: /\n", {},
     "not_allowed", {("content_signal", "ai-train")}),
    ("robots_txt", "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n", {"user_agent": "GPTBot"},
     "not_allowed", {("robots_disallow", "ai-training-crawler")}),
    # Observed by another crawler: GPTBot's group still reserves AI training.
    ("robots_txt", "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n", {},
     "not_allowed", {("robots_disallow", "ai-training-crawler")}),
    ("robots_txt", "User-agent: *\nDisallow: /admin\n", {}, "none", set()),
    ("tdmrep_json", TDMREP, {"path": "/stills/"}, "constrained", {("tdm_reservation", "tdm")}),
    ("tdmrep_json", TDMREP, {"path": "/films/"}, "not_allowed", {("tdm_reservation", "tdm")}),
    ("http_headers", [["tdm-reservation", "1"], ["tdm-policy", "https://films.example/policy"]], {},
     "constrained", {("tdm_reservation", "tdm")}),
    ("http_headers", [["TDM-Reservation", "0"]], {}, "allowed", {("tdm_reservation", "tdm")}),
    ("http_headers", [["X-Robots-Tag", "noindex, noai"]], {}, "not_allowed", {("x_robots_tag", "noai")}),
    # The source holds stills and clips: noimageai reserves only the stills.
    ("http_headers", [["X-Robots-Tag", "noimageai"]], {}, "constrained", {("x_robots_tag", "noimageai")}),
    ("http_headers", [["X-Robots-Tag", "otherbot: noai"]], {}, "none", set()),
    ("http_headers", [["X-Robots-Tag", "GPTBot: noai"]], {}, "not_allowed", {("x_robots_tag", "noai")}),
    ("http_headers", [["Content-Usage", "train-ai=n"]], {}, "not_allowed", {("content_usage", "train-ai")}),
    ("http_headers", [["Content-Usage", "train-ai=y"], ["Content-Usage", "train-genai=n"]], {},
     "constrained", {("content_usage", "train-genai")}),
    ("ai_txt", "User-Agent: *\nDisallow: *.png\nDisallow: *.jpg\n", {}, "constrained",
     {("ai_txt_disallow", "ai-training")}),
    ("ai_txt", "User-Agent: *\nDisallow: *.png\nDisallow: *.mp4\n", {}, "not_allowed",
     {("ai_txt_disallow", "ai-training")}),
    ("ai_txt", "User-Agent: *\nDisallow: /\n", {}, "not_allowed", {("ai_txt_disallow", "ai-training")}),
]


def _body(kind: str, evidence: object, **extra: object) -> dict:
    url = {"robots_txt": f"{SITE}/robots.txt", "tdmrep_json": f"{SITE}/.well-known/tdmrep.json",
           "ai_txt": f"{SITE}/ai.txt", "http_headers": f"{SITE}/stills/a.png"}[kind]
    field = "headers" if kind == "http_headers" else "content"
    return {"kind": kind, "url": url, "observed_at": SEEN, field: evidence, **extra}


def _library(admin: Api, licence: str = "CC-BY-4.0", name: str = "Films") -> dict:
    return source(admin, [holder(admin, f"{name} holder")["id"]], builtin_licence(admin, licence)["id"],
                  name=name, acquisition_method="web_crawl")


def _evaluate(api: Api, source_id: str, on: str = "2026-06-01") -> dict:
    return api.ok("post", "/v1/evaluations", json={"source_ids": [source_id], "use": "commercial_training",
                                                   "on": on})


def test_each_format_is_read_into_a_term(curator: Api, auditor: Api, admin: Api) -> None:
    films = _library(admin)
    for kind, evidence, extra, term, decisive in FORMATS:
        snap = curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=_body(kind, evidence, **extra))
        case = (kind, evidence, extra)
        assert snap["term"] == term, (case, snap["findings"])
        assert {(f["signal"], f["purpose"]) for f in snap["findings"] if f["term"] == term} == decisive, case
        assert snap["mapping_version"] == "tdm-signals/1" and snap["media_types"] == ["image/png", "video/mp4"]
        raw = evidence.encode() if isinstance(evidence, str) else rfc8785.dumps(evidence)
        assert snap["sha256"] == hashlib.sha256(raw).hexdigest()
        assert auditor.ok("get", f"/v1/signals/{snap['id']}") == snap
    listed = auditor.ok("get", "/v1/signals", params={"source_id": films["id"], "kind": "ai_txt"})["items"]
    assert [s["term"] for s in listed] == ["constrained", "not_allowed", "not_allowed"]
    tdm = next(s for s in listed if s["term"] == "constrained")["findings"][0]
    assert tdm["statement"] and tdm["location"] == "ai.txt"


def test_reservations_deny_training_and_a_licence_answers_a_constraint(admin: Api, curator: Api,
                                                                       settings) -> None:  # type: ignore[no-untyped-def]
    films = _library(admin)
    assert _evaluate(admin, films["id"])["verdict"] == "conditional"
    robots = curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=_body(
        "robots_txt", "User-agent: *\nContent-Usage: train-ai=n\n"))
    denied = _evaluate(admin, films["id"])
    assert denied["verdict"] == "denied"
    [reason] = denied["reasons"]
    assert reason["code"] == "tdm_reservation" and reason["signal_id"] == robots["id"]
    assert f"{SITE}/robots.txt" in reason["message"] and "2026-05-01" in reason["message"]
    assert "Content-Usage: train-ai=n" in reason["message"]
    # Not known before it was observed.
    assert _evaluate(admin, films["id"], on="2026-04-30")["verdict"] == "conditional"
    # A newer observation of the same file replaces it; an older one does not.
    curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=_body(
        "robots_txt", "User-agent: *\nContent-Usage: train-ai=y\n", observed_at="2026-05-20T00:00:00Z"))
    assert _evaluate(admin, films["id"])["verdict"] == "conditional"
    curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=_body(
        "robots_txt", "User-agent: *\nContent-Usage: train-ai=n\n", observed_at="2026-01-01T00:00:00Z"))
    assert _evaluate(admin, films["id"])["verdict"] == "conditional"

    # A reservation with a policy: CC BY grants training, so its obligations apply...
    policy = curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=_body(
        "http_headers", [["tdm-reservation", "1"], ["tdm-policy", "https://films.example/policy"]]))
    assert policy["term"] == "constrained"
    assert _evaluate(admin, films["id"])["verdict"] == "conditional"
    # ... under a licence that grants nothing, the constraint is a denial too.
    closed = _library(admin, "LicenseRef-All-Rights-Reserved", name="Closed")
    curator.ok("post", f"/v1/sources/{closed['id']}/signals", 201, json=_body(
        "http_headers", [["tdm-reservation", "1"], ["tdm-policy", "https://films.example/policy"]]))
    codes = {r["code"] for r in _evaluate(admin, closed["id"])["reasons"]}
    assert {"ai_training_not_allowed", "tdm_constrained"} <= codes

    # A work's own snapshot counts while the work is live; retiring the snapshot lifts it.
    coffee = upload(admin, films["id"], media.image("coffee.png"))
    work = curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=_body(
        "http_headers", [["X-Robots-Tag", "noimageai"]], asset_id=coffee["id"]))
    assert work["term"] == "not_allowed" and work["media_types"] == ["image/png"]
    [reason] = _evaluate(admin, films["id"])["reasons"]
    assert (reason["code"], reason["asset_id"], reason["signal_id"]) == ("tdm_reservation", coffee["id"], work["id"])
    retired = curator.ok("post", f"/v1/signals/{work['id']}/retire", json={"reason": "wrong site"})
    assert retired["retired_reason"] == "wrong site"
    assert _evaluate(admin, films["id"])["verdict"] == "conditional"

    # What other records cite: the current evidence per (work, url, kind), with digests.
    from registry.core.db import make_engine
    engine = make_engine(settings.effective_database_url)
    with Session(engine) as session:
        evidence = signal_evidence(session, [films["id"], closed["id"]])
    engine.dispose()
    assert [(e.kind.value, e.term.value) for e in evidence[films["id"]]] == [
        ("http_headers", "constrained"), ("robots_txt", "allowed")]
    assert evidence[films["id"]][1].findings_summary.startswith("allowed (line 2 for *: ")
    assert evidence[closed["id"]][0].sha256 == hashlib.sha256(rfc8785.dumps(
        [["tdm-reservation", "1"], ["tdm-policy", "https://films.example/policy"]])).hexdigest()


@pytest.mark.parametrize("body, location, problem", [
    (_body("tdmrep_json", "{not json"), "tdmrep.json", "not JSON"),
    (_body("tdmrep_json", '{"location": "/"}'), "tdmrep.json", "not a JSON array of rules"),
    (_body("tdmrep_json", '[7, {"location": "/", "tdm-reservation": 2}]'), "rules[1]",
     "tdm-reservation must be 0 or 1"),
    (_body("tdmrep_json", '[{"location": "/", "tdm-reservation": 1, "tdm-policy": "ftp://x"}]'), "rules[0]",
     "tdm-policy must be an http(s) URL"),
    (_body("http_headers", [["tdm-reservation", "yes"]]), "header tdm-reservation", "tdm-reservation must be 0 or 1"),
    (_body("http_headers", [["tdm-reservation", "1"], ["tdm-reservation", "0"]]), "header tdm-reservation",
     "conflicting values"),
    (_body("http_headers", [["Content-Usage", "train-ai=n,,"]]), "header Content-Usage", "not an RFC 9651 dictionary"),
    (_body("robots_txt", "User-agent: *\nContent-Usage: train ai = n\n"), "line 2", "not an RFC 9651 dictionary"),
])
def test_unreadable_evidence_is_recorded_and_states_nothing(curator: Api, admin: Api, body: dict, location: str,
                                                            problem: str) -> None:
    """A line, field or rule that does not parse is ignored as its format says (RFC 9309, RFC
    9651), but what the crawler saw is kept: the snapshot says which part and why."""
    films = _library(admin)
    snapshot = curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=body)
    assert snapshot["term"] == "none"
    unreadable = [f for f in snapshot["findings"] if f["reading"] == "unreadable"]
    assert [(f["location"], f["term"]) for f in unreadable][-1] == (location, "none")
    assert problem in unreadable[-1]["problem"]
    evaluation = admin.ok("post", "/v1/evaluations", json={"source_ids": [films["id"]],
                                                            "use": "noncommercial_research"})
    assert not [r for r in evaluation["reasons"] if r["code"].startswith("tdm_")]


@pytest.mark.parametrize("body, status, words", [
    (_body("http_headers", [["bad name", "x"]]), 422, "headers"),
    (_body("robots_txt", None, headers=[["a", "b"]]), 422, "content, not headers"),
    (_body("robots_txt", "User-agent: *\n", observed_at="2026-05-01T09:30:00"), 422, "observed_at"),
    (_body("robots_txt", "User-agent: *\n", observed_at="2999-01-01T00:00:00Z"), 422, "in the future"),
    (_body("robots_txt", "x" * (512 * 1024 + 1)), 413, "524,288-byte limit"),
])
def test_a_request_that_is_not_an_observation_is_refused(curator: Api, admin: Api, body: dict, status: int,
                                                         words: str) -> None:
    films = _library(admin)
    response = curator.post(f"/v1/sources/{films['id']}/signals", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


def test_roles_scope_and_audit(admin: Api, curator: Api, auditor: Api, cli) -> None:  # type: ignore[no-untyped-def]
    films = _library(admin)
    other = _library(admin, name="Other")
    body = _body("robots_txt", "User-agent: *\nContent-Usage: train-ai=n\n")
    assert auditor.post(f"/v1/sources/{films['id']}/signals", json=body).status_code == 403
    holder_id = admin.ok("get", f"/v1/sources/{films['id']}")["holder_ids"][0]
    owner = admin.make_key("rights_holder", holder_id)
    assert owner.post(f"/v1/sources/{films['id']}/signals", json=body).status_code == 403
    snap = curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=body)
    assert owner.ok("get", f"/v1/signals/{snap['id']}")["id"] == snap["id"]
    stranger = admin.make_key("rights_holder", other["holder_ids"][0])
    assert stranger.get(f"/v1/signals/{snap['id']}").status_code == 404
    assert stranger.ok("get", "/v1/signals", params={"source_id": films["id"]})["items"] == []
    assert [s["id"] for s in owner.ok("get", "/v1/signals")["items"]] == [snap["id"]]
    assert curator.post("/v1/sources/src_00000000000000000000000000/signals", json=body).status_code == 404
    foreign = upload(admin, other["id"], media.image("coffee.png"))
    refused = curator.post(f"/v1/sources/{films['id']}/signals", json={**body, "asset_id": foreign["id"]})
    assert refused.status_code == 422 and "is not in source" in refused.json()["detail"]

    [entry] = auditor.ok("get", "/v1/log/entries", params={"entity_id": snap["id"]})["items"]
    assert (entry["action"], entry["entity_type"]) == ("signal_snapshot.created", "signal_snapshot")
    assert entry["data"]["sha256"] == snap["sha256"] and entry["data"]["term"] == "not_allowed"
    assert entry["data"]["content"] == body["content"]
    headers = curator.ok("post", f"/v1/sources/{films['id']}/signals", 201, json=_body(
        "http_headers", [["X-Robots-Tag", "noai"]]))
    curator.ok("post", f"/v1/signals/{headers['id']}/retire", json={"reason": "another site"})
    # The log replays to what the database holds, the evidence included.
    result = cli("verify-log")
    assert result.exit_code == 0 and "log and database agree" in result.output, result.output
