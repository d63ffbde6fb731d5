"""Helpers for the dashboard tests (a module of its own: ``conftest`` names collide)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

PASSWORD = "richtig-geheim"


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the form"
    return m.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    r = client.post("/login", data={"name": name, "password": password,
                                    "csrf": csrf_of(page.text), "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
