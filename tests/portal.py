"""Helpers for the portal's tests: signing a browser-like client in through the form."""

import re

from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Signs in through the sign-in form; returns the session's CSRF token."""
    page = client.get("/sign-in")
    response = client.post("/sign-in", data={"api_key": key, "csrf_token": form_token(page.text),
                                             "next": "/works"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return form_token(client.get("/works").text)
