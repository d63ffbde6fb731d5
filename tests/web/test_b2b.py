"""The account view for B2B on a simulated supplier: search, firmographics, buying centre."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.simulate import simulate
from cxlens.store.workspace import Workspace
from cxlens.web.auth import add_user
from web.web_support import PASSWORD, login


@pytest.fixture(scope="module")
def b2b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("b2b") / "ws"
    ws = Workspace.init(root, project="b2b")
    try:
        simulate(ws, business="b2b", customers=120, seed=5, project="b2b")
        add_user(ws.catalog, "bea", PASSWORD, "viewer", ["b2b"])
    finally:
        ws.close()
    with TestClient(create_app(root)) as c:
        login(c, "bea")
        yield c


def test_account_search_and_view_show_firmographics_and_buying_centre(b2b: TestClient) -> None:
    found = b2b.get("/profiles?q=acc-", headers={"accept-language": "de"}).text
    assert "Firmenkonten" in found and "account=acc-" in found
    account_id = found.split("account=")[1].split('"')[0].split("&")[0]
    page = b2b.get(f"/profiles?account={account_id}", headers={"accept-language": "de"}).text
    assert "Buying Center" in page and "Branche" in page and "decision_maker" in page
    person = page.split("person=")[1].split('"')[0].split("&")[0]
    profile = b2b.get(f"/profiles?person={person}").text
    assert f"account={account_id}" in profile  # the person links back to the account
    missing = b2b.get("/profiles?account=acc-nope", headers={"accept-language": "en"})
    assert missing.status_code == 200 and "No account with this id." in missing.text
