import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, client_for


def test_login_logout_and_password_change(lead):
    client = Client()
    assert client.post(reverse("login"), {"username": "lead", "password": "wrong"}).status_code == 200
    response = client.post(reverse("login"), {"username": "lead", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    changed = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "Another-Long-Secret-42", "new_password2": "Another-Long-Secret-42"})
    assert changed.status_code == 302
    lead.refresh_from_db()
    assert lead.check_password("Another-Long-Secret-42")
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize("area", ["reports"])
def test_areas_to_come_say_so(lead, area):
    body = client_for(lead).get(reverse(area)).content.decode()
    assert "Coming next" in body and "not built yet" in body


def test_navigation_marks_the_current_area(lead, account):
    body = client_for(lead).get(reverse("accounts:list")).content.decode()
    assert re.search(r'<a href="/accounts/" aria-current="page">', body)
    for label in ("Portfolio", "Accounts", "Selection", "Relationships", "Plans", "Health", "Reports"):
        assert f">{label}</a>" in body


@pytest.mark.parametrize("code, direction", [("en", "ltr"), ("nl", "ltr"), ("de", "ltr"), ("it", "ltr"), ("zh-hans", "ltr"), ("fa", "rtl")])
def test_language_switcher_sets_language_and_direction(lead, code, direction):
    client = client_for(lead)
    response = client.post(reverse("set_language"), {"language": code, "next": "/accounts/"})
    assert response.status_code == 302 and response.url == "/accounts/"
    body = client.get(reverse("accounts:list")).content.decode()
    assert f'<html lang="{code}" dir="{direction}" ' in body
    assert f'<option value="{code}" selected>' in body


def test_pages_load_no_outside_assets_and_send_a_csp(lead, account):
    response = client_for(lead).get(reverse("accounts:detail", args=[account.pk]))
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.content.decode())
    assert sources and all(not s.startswith(("http://", "https://", "//")) for s in sources)


def test_static_assets_are_served_from_packages(lead):
    client = client_for(lead)
    body = client.get(reverse("home")).content.decode()
    htmx = re.search(r'src="([^"]*htmx[^"]*\.js)"', body).group(1)
    for path in (htmx, "/static/keyplan/keyplan.css", "/static/keyplan/charts.js", "/static/plotly/plotly.min.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert len(b"".join(response.streaming_content) if response.streaming else response.content) > 100


def test_unknown_page_is_a_friendly_404(lead):
    response = client_for(lead).get("/no/such/page/")
    assert response.status_code == 404 and "Not found" in response.content.decode()


def test_an_accounts_relationships_page_highlights_relationships(lead, account):
    body = client_for(lead).get(f"/accounts/{account.pk}/relationships/").content.decode()
    assert re.search(r'<a href="/relationships/" aria-current="page">', body)
    assert not re.search(r'<a href="/accounts/" aria-current="page">', body)
