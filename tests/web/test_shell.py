"""The web shell: pages are served by the API's app but kept out of its OpenAPI document; a
private page sends an anonymous visitor to sign-in; static files are ours and nothing else;
every page carries its security headers."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_pages_are_served_by_the_app_but_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert not {"/", "/dashboard", "/static/{name}"} & set(paths)
    front = client.get("/")
    assert front.status_code == 200 and front.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in front.text and 'href="#main"' in front.text
    assert "/.well-known/csaf/provider-metadata.json" in front.text and "/taxii2/" in front.text


def test_an_anonymous_visitor_to_a_private_page_is_sent_to_sign_in(client: TestClient) -> None:
    r = client.get("/dashboard?tab=x", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=/dashboard%3Ftab%3Dx"


def test_a_forged_session_cookie_is_anonymous(client: TestClient) -> None:
    client.cookies.set("ch_session", "forged-secret-that-no-session-has")
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_static_files_are_ours_only(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/app.js").status_code == 200
    for hostile in ("/static/..%2f__init__.py", "/static/home.py", "/static/%2e%2e", "/static/x"):
        r = client.get(hostile)
        assert r.status_code in {404, 422}, hostile
        assert "def " not in r.text and "import" not in r.text


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text and "style=" not in r.text  # nothing inline: CSP allows none


def test_an_unknown_page_path_under_static_answers_html_not_json(client: TestClient) -> None:
    r = client.get("/static/missing.css")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
