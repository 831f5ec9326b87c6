"""The portal's pages over HTTP: sessions, CSRF, headers, escaping, scope and errors as
sentences (the browser tests, test_portal_browser.py, drive the same pages in Chromium)."""

import json
import re
import time
from html import unescape

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from registry.cli import app as cli_app
from registry.main import create_app
from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload
from tests.portal import form_token, sign_in
from tests.worlds import jpeg

SCRIPT_NAME = '<script>alert("owned")</script> & Sons'




def _coffee_copy(scale: float = 0.7) -> bytes:
    return jpeg(Image.open(media.image("coffee.png")), scale=scale)


@pytest.fixture
def world(admin: Api) -> dict:
    """Ann (named with markup) holds the coffee still, Bob the cat; a model trained on Ann's."""
    ann, bob = holder(admin, SCRIPT_NAME), holder(admin, "Bob Pictures")
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    ann_src = source(admin, [ann["id"]], cc_by, name="Ann <b>stills</b>")
    bob_src = source(admin, [bob["id"]], cc_by, name="Bob secret library")
    coffee = upload(admin, ann_src["id"], media.image("coffee.png"))
    chelsea = upload(admin, bob_src["id"], media.image("chelsea.png"))
    admin.ok("post", f"/v1/sources/{ann_src['id']}/manifests", 201)
    model = admin.ok("post", "/v1/models", 201, json={
        "name": "Dreamreel", "version": "1", "owner": "Studio X", "trained_until": "2026-10-01",
        "training_sources": [{"source_id": ann_src["id"], "weight": "0.5"}]})
    check = admin.ok("post", "/v1/checks", 201, files={"files": ("shot.jpg", _coffee_copy(0.5))})
    generation = admin.ok("post", "/v1/generations", 201, json={
        "model_id": model["id"], "production": "Short film", "title": "Shot 12", "check_ids": [check["id"]]})
    return {"coffee": coffee, "chelsea": chelsea, "generation": generation, "model": model,
            "ann_key": admin.make_key("rights_holder", ann["id"]).key,
            "bob_key": admin.make_key("rights_holder", bob["id"]).key}


def _browser(admin: Api, base_url: str = "http://testserver") -> TestClient:
    """A second cookie jar on the same app (its lifespan already runs under ``admin``)."""
    return TestClient(admin.client.app, base_url=base_url)


def test_signing_in_sets_a_safe_cookie_and_pages_a_strict_policy(admin: Api, world: dict) -> None:
    browser = _browser(admin)
    assert browser.get("/works", follow_redirects=False).headers["location"] == "/sign-in?next=%2Fworks"
    page = browser.get("/sign-in")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    response = browser.post("/sign-in", data={"api_key": world["ann_key"], "next": "/works",
                                              "csrf_token": form_token(page.text)},
                            follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/works"
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("registry_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert world["ann_key"] not in cookie  # the key stays on the server
    works = browser.get("/works")
    assert works.status_code == 200 and world["coffee"]["id"] in works.text

    https = _browser(admin, "https://testserver")
    page = https.get("/sign-in")
    response = https.post("/sign-in", data={"api_key": world["ann_key"], "csrf_token": form_token(page.text)},
                          follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


def test_forms_refuse_a_missing_or_foreign_csrf_token(admin: Api, world: dict) -> None:
    browser = _browser(admin)
    browser.get("/sign-in")
    forged = browser.post("/sign-in", data={"api_key": world["ann_key"], "csrf_token": "forged"},
                          follow_redirects=False)
    assert forged.status_code == 403 and "text/html" in forged.headers["content-type"]
    assert "did not come from this site" in forged.text
    assert browser.get("/works", follow_redirects=False).status_code == 303  # not signed in

    token = sign_in(browser, world["ann_key"])
    files = {"work": ("mine.jpg", _coffee_copy(), "image/jpeg")}
    assert browser.post("/lookup", data={"csrf_token": "forged"}, files=files).status_code == 403
    assert browser.post("/sign-out", data={"csrf_token": "forged"}).status_code == 403
    assert browser.get("/works").status_code == 200  # still signed in
    out = browser.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert browser.get("/works", follow_redirects=False).status_code == 303


def test_user_supplied_text_is_escaped(admin: Api, world: dict) -> None:
    browser = _browser(admin)
    sign_in(browser, world["ann_key"])
    page = browser.get("/works").text
    assert "<script>alert" not in page and "<b>stills" not in page
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; Sons" in page
    assert "Ann &lt;b&gt;stills&lt;/b&gt;" in page


def test_a_rights_holder_sees_only_its_own_works(admin: Api, world: dict) -> None:
    ann, bob = _browser(admin), _browser(admin)
    ann_token, bob_token = sign_in(ann, world["ann_key"]), sign_in(bob, world["bob_key"])
    page = bob.get("/works").text
    assert world["chelsea"]["id"] in page and world["coffee"]["id"] not in page
    assert bob.get(f"/works/{world['coffee']['id']}/thumbnail").status_code == 404
    thumb = ann.get(f"/works/{world['coffee']['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"

    coffee = {"work": ("mine.jpg", _coffee_copy(), "image/jpeg")}
    found = ann.post("/lookup", data={"csrf_token": ann_token}, files=coffee)
    assert found.status_code == 200 and world["coffee"]["id"] in found.text
    assert "Dreamreel 1" in found.text and "data:image/png;base64," in found.text
    hidden = bob.post("/lookup", data={"csrf_token": bob_token}, files=coffee)
    assert hidden.status_code == 200 and world["coffee"]["id"] not in hidden.text
    assert "No registered work of yours" in hidden.text and "Dreamreel" not in hidden.text


def test_a_descriptor_is_looked_up_as_the_file_is(admin: Api, world: dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    work = tmp_path / "mine.jpg"
    work.write_bytes(_coffee_copy())
    result = CliRunner().invoke(cli_app, ["fingerprint", str(work)])
    assert result.exit_code == 0, result.output
    browser = _browser(admin)
    token = sign_in(browser, world["ann_key"])
    by_file = browser.post("/lookup", data={"csrf_token": token},
                           files={"work": ("mine.jpg", work.read_bytes(), "image/jpeg")})
    by_descriptor = browser.post("/lookup", data={"csrf_token": token, "mode": "descriptor"},
                                 files={"work": ("mine.json", result.stdout.encode(), "application/json")})
    for page in (by_file, by_descriptor):
        assert page.status_code == 200 and world["coffee"]["id"] in page.text and "copy" in page.text
    assert "The fingerprint you sent" in by_descriptor.text


def test_errors_are_sentences_and_a_revoked_key_ends_the_session(admin: Api, world: dict) -> None:
    browser = _browser(admin)
    token = sign_in(browser, world["ann_key"])
    wrong = browser.post("/lookup", data={"csrf_token": token},
                         files={"work": ("notes.txt", b"just some words", "text/plain")})
    assert wrong.status_code == 415 and "text/html" in wrong.headers["content-type"]
    sentence = re.search(r'role="alert"[^>]*>([^<]+)<', wrong.text).group(1)  # type: ignore[union-attr]
    assert sentence.endswith(".") and "{" not in sentence, sentence
    not_json = browser.post("/lookup", data={"csrf_token": token, "mode": "descriptor"},
                            files={"work": ("x.json", json.dumps({"kind": "nope"}).encode(), "application/json")})
    assert not_json.status_code == 422 and "not a query descriptor" in not_json.text
    stranger = _browser(admin)
    page = stranger.get("/sign-in")
    refused = stranger.post("/sign-in", data={"api_key": "rk_nonsense", "csrf_token": form_token(page.text)})
    assert refused.status_code == 401 and "That key was not accepted" in refused.text

    keys = admin.ok("get", "/v1/keys")
    ann_key = next(k for k in (keys["items"] if isinstance(keys, dict) else keys)
                   if world["ann_key"].startswith(f"rk_{k['id']}_"))
    admin.ok("post", f"/v1/keys/{ann_key['id']}/revoke")
    assert browser.get("/works", follow_redirects=False).status_code == 303


def test_claims_filed_from_the_portal_follow_the_api_rules(admin: Api, world: dict) -> None:
    ann, bob = _browser(admin), _browser(admin)
    ann_token, bob_token = sign_in(ann, world["ann_key"]), sign_in(bob, world["bob_key"])
    body = {"kind": "copyright", "generation_id": world["generation"]["id"],
            "statement": "Shot 12 is my <i>coffee</i> still."}
    assert ann.post("/claims", data={**body, "csrf_token": bob_token}).status_code == 403
    filed = ann.post("/claims", data={**body, "csrf_token": ann_token}, follow_redirects=False)
    assert filed.status_code == 303, filed.text
    claim_path = filed.headers["location"]
    page = ann.get(claim_path).text
    assert "Shot 12 is my &lt;i&gt;coffee&lt;/i&gt; still." in page and "Move the claim" not in page
    again = ann.post("/claims", data={**body, "csrf_token": ann_token})
    assert again.status_code == 409 and "already has an open copyright claim" in again.text
    # Bob did not file it and cannot see it, comment on it or move it; Ann cannot move it.
    assert bob.get(claim_path).status_code == 404
    assert bob.post(f"{claim_path}/comments", data={"csrf_token": bob_token, "text": "mine"}).status_code == 404
    moved = ann.post(f"{claim_path}/transitions", data={"csrf_token": ann_token, "to": "accepted"})
    assert moved.status_code == 403 and "text/html" in moved.headers["content-type"]
    pdf = ann.get(f"{claim_path}/evidence.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    assert bob.get(f"{claim_path}/evidence.json").status_code == 404

    curator = _browser(admin)
    curator_token = sign_in(curator, admin.make_key("curator").key)
    assert claim_path.rsplit("/", 1)[1] in curator.get("/claims").text
    moved = curator.post(f"{claim_path}/transitions", data={"csrf_token": curator_token, "to": "under_review",
                                                          "text": "Looking at it."}, follow_redirects=False)
    assert moved.status_code == 303
    assert admin.ok("get", f"/v1{claim_path}")["status"] == "under_review"
    compensation = ann.post("/claims", data={"kind": "compensation", "model_id": world["model"]["id"],
                                             "statement": "Pay me.", "csrf_token": ann_token},
                            follow_redirects=False)
    assert compensation.status_code == 303
    assert ann.get(f"{compensation.headers['location']}/evidence.pdf").status_code == 404


def test_opt_outs_recorded_in_the_portal_flag_sources_and_models(admin: Api, world: dict) -> None:
    ann, bob, curator = _browser(admin), _browser(admin), _browser(admin)
    ann_token, bob_token = sign_in(ann, world["ann_key"]), sign_in(bob, world["bob_key"])
    curator_token = sign_in(curator, admin.make_key("curator").key)
    coffee = world["coffee"]["sha256"]
    assert coffee in ann.get(f"/opt-outs?sha256={coffee}").text  # prefilled from "My works"
    form = {"sha256": coffee, "effective_from": "2026-01-01", "note": "No <em>training</em>"}
    assert ann.post("/opt-outs", data={**form, "csrf_token": bob_token}).status_code == 403
    refused = curator.post("/opt-outs", data={**form, "csrf_token": curator_token})
    assert refused.status_code == 403 and "may not do this" in refused.text
    bad = ann.post("/opt-outs", data={"sha256": "123", "csrf_token": ann_token})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    recorded = ann.post("/opt-outs", data={**form, "csrf_token": ann_token}, follow_redirects=False)
    assert recorded.status_code == 303
    page = ann.get("/opt-outs").text
    assert "No &lt;em&gt;training&lt;/em&gt;" in page and "in force" in page
    assert "Ann &lt;b&gt;stills&lt;/b&gt; 1</strong> holds work" in page
    assert "Dreamreel 1</strong>, trained until 2026-10-01" in page
    opt_out = admin.ok("get", "/v1/opt-outs")["items"][0]
    assert (opt_out["sha256"], opt_out["effective_from"][:10]) == (coffee, "2026-01-01")
    assert "No registered source holds" in bob.get("/opt-outs").text
    assert bob.post(f"/opt-outs/{opt_out['id']}/retire",
                    data={"csrf_token": bob_token, "reason": "not yours"}).status_code == 404
    withdrawn = ann.post(f"/opt-outs/{opt_out['id']}/retire",
                         data={"csrf_token": ann_token, "reason": "licensed after all"}, follow_redirects=False)
    assert withdrawn.status_code == 303
    assert "withdrawn" in ann.get("/opt-outs").text
    assert admin.ok("get", f"/v1/opt-outs/{opt_out['id']}")["retired_reason"] == "licensed after all"


def test_statements_show_a_rights_holder_its_own_line_and_download(admin: Api, world: dict) -> None:
    ann, bob = _browser(admin), _browser(admin)
    sign_in(ann, world["ann_key"])
    sign_in(bob, world["bob_key"])
    params = {"model_id": world["model"]["id"], "period_start": "2026-01-01", "period_end": "2026-12-31",
              "pool": "1000.00", "currency": "EUR"}
    page = ann.get("/statements", params=params)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; Sons" in page.text  # her line
    assert "Bob Pictures" not in page.text and "Bob secret library" not in page.text
    for fmt, start in (("csv", b""), ("pdf", b"%PDF"), ("dsse", b"{")):
        response = ann.get("/statements/download", params={**params, "format": fmt})
        assert response.status_code == 200 and response.content.startswith(start), fmt
        assert b"Bob secret library" not in response.content
    assert "No line" in bob.get("/statements", params=params).text
    bad = ann.get("/statements", params={**params, "pool": "lots"})
    assert bad.status_code == 422 and "Give the pool as an amount" in bad.text
    assert "registry verify-report" in ann.get("/verify").text


def test_a_long_clip_is_looked_up_as_a_job_with_progress_then_forgotten(admin: Api, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ann = holder(admin, "Ann Films")
    cc_by = builtin_licence(admin, "CC-BY-4.0")["id"]
    films = source(admin, [ann["id"]], cc_by, name="Ann films")
    film = upload(admin, films["id"], media.clip("bigbuckbunny.mp4"))
    excerpt = media.make_variant(media.clip("bigbuckbunny.mp4"), tmp_path / "long.mp4", start=0.5,
                                 duration=4.0, scale=0.5)
    admin.client.app.state.settings.sync_clip_max_seconds = 2.0  # so the excerpt is "long"
    browser = _browser(admin)
    token = sign_in(browser, admin.make_key("rights_holder", ann["id"]).key)
    submitted = browser.post("/lookup", data={"csrf_token": token}, follow_redirects=False,
                             files={"work": ("long.mp4", excerpt.read_bytes(), "video/mp4")})
    assert submitted.status_code == 303 and submitted.headers["location"].startswith("/lookup/jobs/job_")
    job_page = submitted.headers["location"]
    for _ in range(600):
        progress = browser.get(f"{job_page}/progress").json()
        if progress["state"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert progress["state"] == "succeeded", progress
    answer = browser.get(job_page)
    assert answer.status_code == 200 and film["id"] in answer.text and "Copied spans" in answer.text
    assert 'src="data:image/png;base64,' in answer.text  # the work's own picture, kept with the answer
    # The look-up is its requester's alone, and its file is gone from the blob store.
    other = _browser(admin)
    sign_in(other, admin.make_key("curator").key)
    assert other.get(job_page).status_code == 404
    job = admin.ok("get", f"/v1/check-jobs/{job_page.rsplit('/', 1)[1]}")
    assert job["purpose"] == "lookup" and job["result"] is None
    blob = settings.effective_blob_dir / "sha256"
    assert not any(p.name == job["sha256"] for p in blob.rglob("*"))


def test_refusals_before_the_page_runs_are_pages_for_a_browser(admin: Api, world: dict, settings) -> None:  # type: ignore[no-untyped-def]
    browser = _browser(admin)
    token = sign_in(browser, world["ann_key"])
    too_long = browser.post("/opt-outs", data={"csrf_token": token, "note": "x" * 3000})
    assert too_long.status_code == 422 and "text/html" in too_long.headers["content-type"]
    assert "The form's field 'note' was not accepted" in unescape(too_long.text)

    small = settings.model_copy(update={"max_upload_bytes": 200_000})
    big = b"\0" * 400_000
    with TestClient(create_app(small)) as app:
        token = sign_in(app, world["ann_key"])
        html = app.post("/lookup", data={"csrf_token": token}, headers={"Accept": "text/html"},
                        files={"work": ("big.jpg", big, "image/jpeg")})
        assert html.status_code == 413 and "text/html" in html.headers["content-type"]
        assert 'role="alert">Request body exceeds the' in html.text
        api = app.post("/v1/lookups", headers=admin.headers, files={"files": ("big.jpg", big, "image/jpeg")})
        assert api.status_code == 413 and api.headers["content-type"] == "application/problem+json"
