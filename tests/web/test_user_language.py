"""The language a user reads in: their own choice (kept in their profile), else the browser's Accept-Language,
else English; and imports read ambiguous amounts as that language writes them."""

import re

from django.test import Client
from django.urls import reverse
from django.utils import translation

from keyplan.revenue.reading import detect_decimal
from tests.conftest import client_for


def page_language(client: Client, **headers) -> str:
    body = client.get(reverse("home"), headers=headers).content.decode()
    return re.search(r'<html lang="([^"]+)"', body).group(1)


def test_the_switcher_keeps_the_choice_in_the_profile(kam):
    browser = client_for(kam)
    assert page_language(browser) == "en"
    assert page_language(browser, accept_language="it") == "it"  # no choice yet: the browser's language
    response = browser.post(reverse("set_language"), {"language": "de", "next": "/"})
    assert response.status_code == 302
    kam.refresh_from_db()
    assert kam.language == "de"
    other_browser = client_for(kam)  # another machine: no cookie, another Accept-Language
    assert page_language(other_browser, accept_language="it") == "de"


def test_an_unknown_language_changes_nothing(kam):
    browser = client_for(kam)
    browser.post(reverse("set_language"), {"language": "xx", "next": "/"})
    kam.refresh_from_db()
    assert kam.language == ""


def test_signed_out_the_switcher_still_works_by_cookie(db):
    browser = Client()
    response = browser.post(reverse("set_language"), {"language": "fa", "next": "/login/"})
    assert response.status_code == 302
    body = browser.get(reverse("login")).content.decode()
    assert '<html lang="fa" dir="rtl" ' in body


def test_amounts_that_could_be_either_are_read_as_the_user_writes_them():
    ambiguous = ["1.234", "2.500", "12.000"]
    with translation.override("de"):
        assert detect_decimal(ambiguous) == ","
    with translation.override("en"):
        assert detect_decimal(ambiguous) == "."
    with translation.override("de"):
        assert detect_decimal(["1,234.50", "7.25"]) == "."  # the values decide when they can
