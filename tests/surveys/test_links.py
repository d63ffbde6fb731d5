"""Personal survey links: HMAC-signed with the project's secret, bound to a person, once."""

from __future__ import annotations

import pytest

from cxlens.errors import AuthError, ValidationError
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace
from cxlens.surveys import links


def test_a_signed_link_verifies_and_names_its_person(ws: Workspace) -> None:
    create_project(ws.catalog, "shop")
    key = links.project_key(ws.catalog, "shop")
    claim = links.make_claim("shop", "nps-checkout", "kunde-42", "en", days=2, now=1000.0)
    token = links.sign(key, claim)
    got = links.verify(key, token, now=1000.0 + 86400)
    assert got == claim and got.user_id == "kunde-42" and got.lang == "en"


def test_tampered_expired_and_foreign_links_are_refused(ws: Workspace) -> None:
    create_project(ws.catalog, "shop")
    create_project(ws.catalog, "other")
    key = links.project_key(ws.catalog, "shop")
    claim = links.make_claim("shop", "nps", "kunde-42", now=1000.0, days=1)
    token = links.sign(key, claim)
    forged = links.sign(key, links.LinkClaim("shop", "nps", "kunde-43", "de", claim.expires, claim.nonce))
    payload_of_forged = forged.split(".")[0]
    with pytest.raises(AuthError, match="not valid"):  # someone else's id under the old signature
        links.verify(key, payload_of_forged + "." + token.split(".")[1], now=1000.0)
    with pytest.raises(AuthError, match="expired"):
        links.verify(key, token, now=1000.0 + 2 * 86400)
    with pytest.raises(AuthError, match="not valid"):  # another project's key
        links.verify(links.project_key(ws.catalog, "other"), token, now=1000.0)
    with pytest.raises(AuthError, match="damaged"):
        links.verify(key, "kaputt", now=1000.0)


def test_a_link_is_claimed_once(ws: Workspace) -> None:
    create_project(ws.catalog, "shop")
    claim = links.make_claim("shop", "nps", "kunde-42")
    assert not links.is_used(ws.catalog, claim)
    assert links.claim_once(ws.catalog, claim) is True
    assert links.claim_once(ws.catalog, claim) is False and links.is_used(ws.catalog, claim)


def test_links_need_project_keys_and_a_person(ws: Workspace) -> None:
    with pytest.raises(ValidationError, match="cxlens project create default"):
        links.project_key(ws.catalog, "default")
    with pytest.raises(ValidationError, match="user id"):
        links.make_claim("default", "nps", " ")
