"""The demo's main pages in each language leave no English behind: no visible text on them is an English message
that the language's catalog translates (a string that skipped the translation tags, or a label built in English)."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.urls import reverse
from django.utils.translation import to_locale

from keyplan.accounts.models import Account, Tier
from keyplan.demo.generator import build_demo
from keyplan.planning.models import AccountPlan
from tests.conftest import client_for

LANGUAGES = [code for code, _name in settings.LANGUAGES if code != "en"]


class VisibleText(HTMLParser):
    """Each piece of Keyplan's own text a reader sees, stripped: not scripts, styles or JSON data, and not user data,
    which the pages isolate (<bdi>, dir="auto") as right-to-left reading needs; a team's own texts (criteria, goals
    the demo wrote in English) are theirs."""

    SKIPPED = {"script", "style", "template", "bdi"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.open: list[tuple[str, bool]] = []  # per open element: its tag and whether its text is skipped
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("placeholder", "aria-label"):  # what a reader meets in attributes
            if attrs.get(name):
                self.texts.append(attrs[name].strip())
        if tag not in self.VOID:
            self.open.append((tag, tag in self.SKIPPED or attrs.get("dir") == "auto"))

    def handle_endtag(self, tag):
        if any(name == tag for name, _skip in self.open):  # closes what HTML leaves open (<li>, <td>, <p>)
            while self.open.pop()[0] != tag:
                pass

    @property
    def hidden(self) -> bool:
        return any(skip for _tag, skip in self.open)

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.texts.append(" ".join(data.split()))


def english_messages(code: str) -> set[str]:
    """The catalog's English messages of two words or more that it translates into something else."""
    with open(Path(settings.LOCALE_PATHS[0]) / to_locale(code) / "LC_MESSAGES" / "django.po", "rb") as source:
        catalog = read_po(source)
    return {m.id for m in catalog if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
            and m.string.lower() != m.id.lower() and "%" not in m.id and "<" not in m.id and len(m.id.split()) >= 2}


@pytest.fixture
def demo_pages(db):
    demo = build_demo(accounts=24, seed=7)
    key = Account.objects.filter(tier=Tier.KEY).order_by("pk").first()
    plan = AccountPlan.objects.filter(account=key).order_by("-pk").first()
    pages = [
        reverse("home"), reverse("revenue:portfolio"), reverse("revenue:analysis", args=["pareto"]),
        reverse("revenue:analysis", args=["mrr"]), reverse("accounts:list"), reverse("accounts:detail", args=[key.pk]),
        reverse("relationships:map", args=[key.pk]), reverse("relationships:interactions", args=[key.pk]),
        reverse("relationships:who_to_win", args=[key.pk]), reverse("scoring:matrix"), reverse("health:dashboard"),
        reverse("health:account", args=[key.pk]), reverse("planning:portfolio"),
    ]
    if plan:
        pages += [reverse(f"planning:{name}", args=[key.pk, plan.pk]) for name in ("plan", "timeline", "whitespace", "raci")]
    pages += [reverse("planning:account", args=[key.pk]), reverse("planning:charter"),
              reverse("planning:portfolio_timeline")]
    return demo.users["lead"], pages


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_main_pages_leave_no_english(demo_pages, code):
    lead, pages = demo_pages
    english = english_messages(code)
    client = client_for(lead)
    client.cookies["django_language"] = code
    left = []
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        parser = VisibleText()
        parser.feed(response.content.decode())
        left += sorted({f"{path}: {text}" for text in parser.texts if text in english or text.rstrip(".:") in english})
    assert not left, "\n".join(left)


class KeyplanDigits(VisibleText):
    """Keyplan's own text on a page, without the drawings (the timeline's SVG carries the plan's own titles)."""

    SKIPPED = VisibleText.SKIPPED | {"svg"}


def test_the_planning_pages_write_persian_digits_in_persian(demo_pages):
    """Counts, versions, section numbers, days and dates on the planning pages in Persian digits; user data (a period
    such as FY2026, a goal's title) keeps its own, isolated."""
    lead, pages = demo_pages
    client = client_for(lead)
    client.cookies["django_language"] = "fa"
    latin = []
    for path in [p for p in pages if "/plans" in p]:
        parser = KeyplanDigits()
        parser.feed(client.get(path).content.decode())
        # A <title> or a catalog sentence isolates user data and typed examples (FSI/LRI … PDI): theirs, not ours.
        texts = [re.sub("[\u2066\u2068][^\u2069]*\u2069", "", text) for text in parser.texts]
        latin += [f"{path}: {text}" for text in texts if any(c in "0123456789" for c in text)]
    assert not latin, "\n".join(latin)
