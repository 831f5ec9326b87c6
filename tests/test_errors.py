from registry.core.config import Settings
from tests.conftest import Api

OVER_JSON_LIMIT = Settings().max_json_bytes + 1


def _is_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"].startswith("https://")
    return body


def test_malformed_json(admin: Api) -> None:
    response = admin.client.post("/v1/holders", content=b'{"name": "x", "kind":',
                                 headers={**admin.headers, "Content-Type": "application/json"})
    assert "not valid JSON" in _is_problem(response, 400)["detail"]


def test_wrong_types_name_the_field(admin: Api) -> None:
    body = _is_problem(admin.post("/v1/holders", json={"name": 42, "kind": "robot"}), 422)
    locations = {e["location"] for e in body["errors"]}
    assert {"body.name", "body.kind"} <= locations
    extra = _is_problem(admin.post("/v1/holders", json={"name": "x", "kind": "person", "evil": 1}), 422)
    assert "evil" in extra["detail"]
    assert _is_problem(admin.get("/v1/holders", params={"limit": "many"}), 422)


def test_unknown_ids_and_routes(admin: Api) -> None:
    for path in ("/v1/holders/hld_nope", "/v1/licences/lic_nope", "/v1/sources/src_nope",
                 "/v1/assets/ast_nope", "/v1/nothing-here", "/v1/holders/" + "x" * 500):
        _is_problem(admin.get(path), 404)
    _is_problem(admin.client.delete("/v1/holders", headers=admin.headers), 405)


def test_oversize_json_is_refused_before_parsing(admin: Api) -> None:
    huge = b'{"name": "' + b"a" * OVER_JSON_LIMIT + b'", "kind": "person"}'
    response = admin.client.post("/v1/holders", content=huge,
                                 headers={**admin.headers, "Content-Type": "application/json"})
    _is_problem(response, 413)


def test_docs_page_works_offline(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static-offline-docs/{asset}" in page.text
        assert client.get(f"/static-offline-docs/{asset}").status_code == 200


def test_nul_characters_get_the_same_answer_on_every_backend(admin: Api) -> None:
    body = _is_problem(admin.post("/v1/evaluations", json={"source_ids": ["\x00"], "use": "commercial_release"}), 422)
    assert "NUL" in body["detail"]
    _is_problem(admin.get("/v1/holders", params={"name": "a\x00b"}), 422)
    _is_problem(admin.get("/v1/holders/hld_%00"), 422)


def test_streamed_oversize_body_without_length_gets_413(admin: Api) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(OVER_JSON_LIMIT // 65536 + 1):
            yield b"a" * 65536
        yield b'", "kind": "person"}'

    response = admin.client.post("/v1/holders", content=chunks(),
                                 headers={**admin.headers, "Content-Type": "application/json"})
    _is_problem(response, 413)
