"""Login, sessions, CSRF, roles, project isolation and the login rate limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.store.workspace import Workspace
from cxlens.web.auth import add_user
from web.web_support import PASSWORD, csrf_of, login


def test_pages_redirect_to_login_without_a_session(client: TestClient) -> None:
    r = client.get("/journey?days=7", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fjourney%3Fdays%3D7"


def test_login_sets_an_httponly_samesite_lax_session_cookie(client: TestClient) -> None:
    page = client.get("/login")
    r = client.post("/login", data={"name": "anna", "password": PASSWORD,
                                    "csrf": csrf_of(page.text), "next": "/journey"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/journey"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("cxlens_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/journey").status_code == 200


def test_session_cookie_is_secure_over_https(shop_ws: Path) -> None:
    with TestClient(create_app(shop_ws), base_url="https://testserver") as c:
        page = c.get("/login")
        r = c.post("/login", data={"name": "anna", "password": PASSWORD,
                                   "csrf": csrf_of(page.text)}, follow_redirects=False)
        cookie = next(h for h in r.headers.get_list("set-cookie")
                      if h.startswith("cxlens_session="))
        assert "Secure" in cookie


def test_wrong_password_is_refused_with_a_form_error(client: TestClient) -> None:
    page = client.get("/login")
    r = client.post("/login", data={"name": "anna", "password": "falsch-falsch",
                                    "csrf": csrf_of(page.text)},
                    headers={"accept-language": "de"})
    assert r.status_code == 401
    assert "Benutzername oder Passwort ist falsch." in r.text
    assert "cxlens_session" not in r.headers.get("set-cookie", "")


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"name": "anna", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 400
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.fixture
def lockout_ws(tmp_path: Path) -> Path:
    """A workspace of its own: failed logins are kept in its catalog for a minute."""
    ws = Workspace.init(tmp_path / "ws", project="shop")
    try:
        add_user(ws.catalog, "viktor", PASSWORD, "viewer", ["shop"])
        add_user(ws.catalog, "anna", PASSWORD, "admin", ["shop"])
    finally:
        ws.close()
    return ws.root


def test_sixth_attempt_after_five_failures_in_a_minute_is_answered_429(lockout_ws: Path) -> None:
    with TestClient(create_app(lockout_ws)) as client:
        token = csrf_of(client.get("/login").text)
        for _ in range(6):  # successful sign-ins do not use up the budget
            login(client, "viktor")
        codes = [client.post("/login", data={"name": "viktor", "password": "nope-nope-nope",
                                             "csrf": token}).status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
        # even the right password waits out the minute: guessing gains nothing
        r = client.post("/login", data={"name": "viktor", "password": PASSWORD, "csrf": token})
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        # another user from the same address is not blocked
        login(client, "anna")


def test_the_login_limit_holds_across_server_processes(lockout_ws: Path) -> None:
    """Two app instances share nothing but the workspace, like two --workers processes."""
    with TestClient(create_app(lockout_ws)) as one, TestClient(create_app(lockout_ws)) as two:
        for client in (one, two, one, two, one):
            token = csrf_of(client.get("/login").text)
            r = client.post("/login", data={"name": "viktor", "password": "nope-nope-nope",
                                            "csrf": token})
            assert r.status_code == 401
        token = csrf_of(two.get("/login").text)
        r = two.post("/login", data={"name": "viktor", "password": PASSWORD, "csrf": token})
        assert r.status_code == 429


def test_user_sees_only_their_projects(client: TestClient) -> None:
    login(client, "olga")
    r = client.get("/")
    assert r.status_code == 200
    assert '<option value="other" selected>' in r.text and 'value="shop"' not in r.text
    for path in ("/?project=shop", "/journey?project=shop", "/funnels?project=shop&export=funnel"):
        assert client.get(path).status_code == 403


def test_viewer_cannot_open_the_data_page_admin_can(client: TestClient) -> None:
    login(client, "viktor")
    assert client.get("/data").status_code == 403
    assert "/data?" not in client.get("/").text  # not in the navigation either
    login(client, "anna")
    assert client.get("/data").status_code == 200


def test_logout_needs_csrf_and_ends_the_session(anna: TestClient) -> None:
    page = anna.get("/")
    assert anna.post("/logout", data={"csrf": "x"}).status_code == 400
    r = anna.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert anna.get("/", follow_redirects=False).status_code == 303


def test_login_next_never_redirects_off_site(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/x")
    r = client.post("/login", data={"name": "anna", "password": PASSWORD,
                                    "csrf": csrf_of(page.text), "next": "https://evil.example"},
                    follow_redirects=False)
    assert r.headers["location"] == "/"


def test_removed_user_loses_access_at_once(shop_ws: Path, client: TestClient) -> None:
    from cxlens.store.workspace import Workspace
    from cxlens.web.auth import add_user, remove_user

    ws = Workspace.open(shop_ws)
    try:
        add_user(ws.catalog, "temp", PASSWORD, "viewer", ["shop"])
        login(client, "temp")
        assert client.get("/").status_code == 200
        remove_user(ws.catalog, "temp")
    finally:
        ws.close()
    assert client.get("/", follow_redirects=False).status_code == 303
