from scripts.export_openapi import TARGET, render


def test_committed_openapi_matches_the_app() -> None:
    assert TARGET.read_text() == render(), (
        "openapi/openapi.json is stale: run `python scripts/export_openapi.py` and commit it")
