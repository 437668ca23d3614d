"""Dates on a Persian page are in the Solar Hijri calendar with Persian digits; other languages keep Django's
Gregorian formats; values written for machines (form fields, ``datetime`` attributes) stay ISO."""

import datetime

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from keyplan.relationships import services as relationships
from tests.conftest import client_for

NOWRUZ_1404 = datetime.date(2025, 3, 21)  # 1 Farvardin 1404, the Iranian new year


def render(language: str, text: str, **values) -> str:
    with translation.override(language):
        return Template(text).render(Context(values))


@pytest.mark.parametrize("language, expected", [
    ("fa", "۱۴۰۴/۱/۱ · ۱ فروردین ۱۴۰۴"),
    ("de", "21.03.2025 · 21. März 2025"),
    ("en", "03/21/2025 · March 21, 2025"),
    ("zh-hans", "2025年3月21日 · 2025年3月21日"),
])
def test_named_formats_in_each_calendar(language, expected):
    assert render(language, '{{ d|date:"SHORT_DATE_FORMAT" }} · {{ d|date:"DATE_FORMAT" }}', d=NOWRUZ_1404) == expected


def test_the_last_day_of_a_persian_year_and_a_time():
    # 1404 is a common year: Esfand has 29 days, and 1405 begins on 21 March 2026.
    moment = datetime.datetime(2026, 3, 20, 14, 5)
    assert render("fa", '{{ d|date:"DATE_FORMAT" }} {{ d|time:"TIME_FORMAT" }}', d=moment) == "۲۹ اسفند ۱۴۰۴ ۱۴:۰۵"
    assert render("fa", '{{ d|date:"SHORT_DATE_FORMAT" }}', d=datetime.date(2026, 3, 21)) == "۱۴۰۵/۱/۱"


def test_spelled_out_patterns_stay_gregorian_for_machines():
    assert render("fa", "{{ d|date:'Y-m-d' }} {{ d|date:'c' }}", d=NOWRUZ_1404) == "2025-03-21 2025-03-21"
    assert render("fa", "{{ d|date:'DATE_FORMAT' }}{{ none|date:'DATE_FORMAT' }}", d=None, none="") == ""


def test_the_interaction_log_in_persian(lead, make_account):
    account = make_account("Zenittron Health N.V.")
    relationships.log_interaction(account, by=lead, kind="meeting", date=datetime.date(2026, 3, 2), summary="Review")
    client = client_for(lead)
    client.cookies["django_language"] = "fa"
    body = client.get(reverse("relationships:interactions", args=[account.pk])).content.decode()
    assert '<time datetime="2026-03-02">۱۱ اسفند ۱۴۰۴</time>' in body
    client.cookies["django_language"] = "de"
    body = client.get(reverse("relationships:interactions", args=[account.pk])).content.decode()
    assert '<time datetime="2026-03-02">2. März 2026</time>' in body


@pytest.mark.parametrize("language, expected", [
    ("en", "Jan 2026"), ("de", "Jan. 2026"), ("zh-hans", "2026年1月"), ("fa", "ژانویه ۲۰۲۶"),
])
def test_a_month_of_the_monthly_analyses_as_the_reader_names_it(language, expected):
    from keyplan.core.dates import month_label

    with translation.override(language):
        assert month_label("2026-01") == expected
        assert month_label("not a month") == "not a month"
