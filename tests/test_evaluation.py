from tests import media
from tests.conftest import Api
from tests.factories import builtin_licence, holder, source, upload


def _evaluate(api: Api, source_ids: list[str], use: str, **extra: str) -> dict:
    return api.ok("post", "/v1/evaluations", json={"source_ids": source_ids, "use": use, **extra})


def test_cc_by_is_conditional_on_attribution(admin: Api) -> None:
    blender = holder(admin, "Blender Foundation")
    films = source(admin, [blender["id"]], builtin_licence(admin, "CC-BY-4.0")["id"],
                   name="Big Buck Bunny", version="2008")
    result = _evaluate(admin, [films["id"]], "commercial_release")
    assert result["verdict"] == "conditional"
    [credit] = result["obligations"]
    assert credit["kind"] == "attribution"
    assert credit["text"].startswith('"Big Buck Bunny" 2008 by Blender Foundation, licensed under '
                                     "Creative Commons Attribution 4.0 International")
    cc0 = source(admin, [blender["id"]], builtin_licence(admin, "CC0-1.0")["id"], name="PD")
    assert _evaluate(admin, [cc0["id"]], "commercial_training")["verdict"] == "allowed"


def test_denials_carry_every_reason(admin: Api) -> None:
    studio = holder(admin, "Studio")
    nc = source(admin, [studio["id"]], builtin_licence(admin, "CC-BY-NC-ND-4.0")["id"], name="NC")
    research = _evaluate(admin, [nc["id"]], "noncommercial_research")
    assert research["verdict"] == "conditional"
    release = _evaluate(admin, [nc["id"]], "commercial_release")
    assert release["verdict"] == "denied"
    assert {r["code"] for r in release["reasons"]} == {"non_commercial", "no_derivatives"}
    arr = source(admin, [studio["id"]], builtin_licence(admin, "LicenseRef-All-Rights-Reserved")["id"],
                 name="ARR")
    research = _evaluate(admin, [arr["id"]], "noncommercial_research")
    assert [r["code"] for r in research["reasons"]] == ["ai_training_not_allowed"]


def test_term_territory_fees_and_opt_out(admin: Api) -> None:
    studio = holder(admin, "Studio")
    licence = admin.ok("post", "/v1/licences", 201, json={
        "identifier": "LicenseRef-Library-Deal", "name": "Library deal", "commercial_use": True,
        "derivatives": True, "attribution_required": False, "ai_training": "constrained",
        "ai_training_constraint": "no voice cloning", "territory": ["GB", "IE"],
        "valid_from": "2026-01-01", "valid_until": "2026-12-31", "fee_flat": "1000",
        "royalty_rate": "0.02", "currency": "GBP"})
    deal = source(admin, [studio["id"]], licence["id"], name="Deal")
    ok = _evaluate(admin, [deal["id"]], "commercial_training", territory="GB", on="2026-06-01")
    assert ok["verdict"] == "conditional"
    assert {o["kind"] for o in ok["obligations"]} == {"training_constraint", "flat_fee", "royalty"}
    fee = next(o for o in ok["obligations"] if o["kind"] == "flat_fee")
    assert (fee["amount"], fee["currency"]) == ("1000.00", "GBP")
    late = _evaluate(admin, [deal["id"]], "commercial_training", territory="US", on="2027-02-01")
    assert late["verdict"] == "denied"
    assert {r["code"] for r in late["reasons"]} == {"expired", "territory"}

    crawl = source(admin, [studio["id"]], builtin_licence(admin, "CC-BY-4.0")["id"], name="Crawl",
                   opt_out_signals=[{"signal": "ai_txt", "reserved": True,
                                     "detail": "User-Agent: * Disallow: /"}])
    denied = _evaluate(admin, [crawl["id"]], "noncommercial_research")
    assert [r["code"] for r in denied["reasons"]] == ["opt_out_signal"]


def test_sources_combine_any_denial_wins_obligations_accumulate(admin: Api) -> None:
    studio = holder(admin, "Studio")
    by = source(admin, [studio["id"]], builtin_licence(admin, "CC-BY-4.0")["id"], name="A")
    sa = source(admin, [studio["id"]], builtin_licence(admin, "CC-BY-SA-4.0")["id"], name="B")
    nc = source(admin, [studio["id"]], builtin_licence(admin, "CC-BY-NC-4.0")["id"], name="C")
    both = _evaluate(admin, [by["id"], sa["id"]], "commercial_release")
    assert both["verdict"] == "conditional"
    assert sorted(o["kind"] for o in both["obligations"]) == ["attribution", "attribution", "share_alike"]
    three = _evaluate(admin, [by["id"], sa["id"], nc["id"]], "commercial_release")
    assert three["verdict"] == "denied"
    assert [s["verdict"] for s in three["sources"]] == ["conditional", "conditional", "denied"]


def test_asset_licences_are_evaluated_with_their_source(admin: Api) -> None:
    studio = holder(admin, "Studio")
    films = source(admin, [studio["id"]], builtin_licence(admin, "CC-BY-4.0")["id"], name="Mixed")
    nc = builtin_licence(admin, "CC-BY-NC-4.0")
    upload(admin, films["id"], media.image("chelsea.png"), licence_id=nc["id"])
    result = _evaluate(admin, [films["id"]], "commercial_training")
    assert result["verdict"] == "denied"
    assert result["reasons"][0]["licence_id"] == nc["id"]


def test_unknown_source_and_use(admin: Api) -> None:
    missing = admin.post("/v1/evaluations", json={"source_ids": ["src_nope"], "use": "commercial_training"})
    assert missing.status_code == 404
    bad_use = admin.post("/v1/evaluations", json={"source_ids": ["src_nope"], "use": "world_domination"})
    assert bad_use.status_code == 422
