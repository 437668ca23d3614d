"""The shipped translations: complete, placeholder-safe, compiled, and what the pages actually show.

The .po catalogs under keyplan/locale are the source of truth; the .mo files next to them are
committed too, because the app is installed from the repository without GNU gettext.
"""

import functools
import gettext
import re
from pathlib import Path

import django
import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import to_locale

from tests.conftest import client_for

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != "en"]
NAV = ["Portfolio", "Accounts", "Selection", "Relationships", "Plans", "Health", "Reports"]

# What a KAM reads in each language (see GLOSSARY.md). Written out here on purpose, so that a
# catalog that loses or blanks a translation fails the page tests instead of silently showing English.
EXPECTED = {
    "nl": {
        "nav": ["Portfolio", "Accounts", "Selectie", "Relaties", "Accountplannen", "Klantgezondheid", "Rapportages"],
        "list": ["KAM-werklast", "Nieuw account", "Key-accountstatus", "Levenscyclus", "Filteren", "1 account",
                 "Alle KAM's", "KAM-lead", "Uitloggen", "Prospect"],
        "detail": ["Key-accountteam", "Wijzigingsgeschiedenis", "Belangrijkste concurrenten", "Statusgeschiedenis"],
        "health": ["Binnenkort", "gezondheidsscore"],
    },
    "de": {
        "nav": ["Portfolio", "Accounts", "Auswahl", "Beziehungen", "Account-Pläne", "Kundengesundheit", "Berichte"],
        "list": ["KAM-Auslastung", "Neuer Account", "Key-Account-Status", "Lebenszyklus", "Filtern", "1 Account",
                 "Alle KAMs", "KAM-Leitung", "Abmelden", "Interessent"],
        "detail": ["Key-Account-Team", "Änderungsverlauf", "Hauptwettbewerber", "Statusverlauf"],
        "health": ["Demnächst", "Health Score"],
    },
    "it": {
        "nav": ["Portafoglio", "Account", "Selezione", "Relazioni", "Piani", "Salute", "Report"],
        "list": ["Carico di lavoro KAM", "Nuovo account", "Stato account chiave", "Ciclo di vita", "Filtra",
                 "1 account", "Tutti i KAM", "Responsabile KAM", "Esci", "Prospect"],
        "detail": ["Team dell'account", "Cronologia delle modifiche", "Principali concorrenti", "Storico dello stato"],
        "health": ["Prossimamente", "punteggio di salute"],
    },
    "zh-hans": {
        "nav": ["客户组合", "客户", "大客户甄选", "客户关系", "客户计划", "客户健康度", "报告"],
        "list": ["大客户经理工作量", "新建客户", "大客户状态", "生命周期", "筛选", "1 个客户",
                 "全部大客户经理", "大客户主管", "退出登录", "潜在客户"],
        "detail": ["大客户团队", "变更历史", "主要竞争对手", "状态历史"],
        "health": ["即将推出", "健康评分"],
    },
    "fa": {
        "nav": ["سبد مشتریان", "حساب‌ها", "انتخاب", "روابط", "برنامه‌ها", "سلامت حساب", "گزارش‌ها"],
        "list": ["حجم کار مدیران حساب", "حساب جدید", "وضعیت کلیدی", "چرخه عمر", "فیلتر", "۱ حساب",
                 "همه مدیران حساب", "سرپرست حساب‌های کلیدی", "خروج", "مشتری بالقوه"],
        "detail": ["تیم حساب کلیدی", "تاریخچه تغییرات", "رقبای اصلی", "سابقه وضعیت"],
        "health": ["به‌زودی", "امتیاز سلامت"],
    },
}

# The language's own plural rule, as Django's own catalogs for that language state it.
PLURAL_FORMS = {
    "nl": "nplurals=2; plural=(n != 1);",
    "de": "nplurals=2; plural=(n != 1);",
    "it": "nplurals=2; plural=(n != 1);",
    "zh_Hans": "nplurals=1; plural=0;",
    "fa": "nplurals=2; plural=(n > 1);",
}

PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0\- +]*(?:\d+|\*)?(?:\.\d+)?([diouxXeEfFgGcrsa%])")


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "django.po"


@functools.cache
def load(locale: str):
    """The parsed catalog (cached: the tests only read it)."""
    with po_path(locale).open("rb") as f:
        return read_po(f, locale=None)


def messages(locale: str):
    return [m for m in load(locale) if m.id]


def forms(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def placeholders(text: str) -> set[str]:
    """Named placeholders as ``%(name)s``; positional ones as ``%s``; ``%%`` is a literal percent sign."""
    found = set()
    for name, conversion in PLACEHOLDER.findall(text):
        if conversion != "%":
            found.add(f"%({name}){conversion}" if name else f"%{conversion}")
    return found


def shows(body: str, text: str) -> bool:
    """Literal {% translate %} output is not escaped, {{ variables }} are: accept either form."""
    return text in body or escape(text) in body


def page(lead, code: str, path: str) -> str:
    client = client_for(lead)
    response = client.post(reverse("set_language"), {"language": code, "next": "/accounts/"})
    assert response.status_code == 302
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def formats(text: str, expected: set[str]) -> bool:
    """Whether ``text`` %-formats with the test's arguments (i.e. whether code can format it)."""
    names = {p[2:p.index(")")] for p in expected if p.startswith("%(")}
    positional = [p for p in expected if not p.startswith("%(")]
    try:
        text % ({name: 1 for name in names} if names else tuple(1 for _p in positional))
    except (TypeError, ValueError, KeyError):
        return False
    return True


ALL_ENTRIES = [
    pytest.param(locale, message.id, message.context,
                 id=f"{locale}:{ids(message)[0][:40]}" + (f" ({message.context})" if message.context else ""))
    for locale in [to_locale(code) for code in TRANSLATED]
    for message in messages(locale)
]


# -- the catalogs -------------------------------------------------------------------------------


def test_every_ui_language_has_a_catalog_and_a_compiled_file():
    assert set(TRANSLATED) == {"nl", "de", "it", "zh-hans", "fa"}
    for code in TRANSLATED:
        assert po_path(to_locale(code)).is_file(), code
        assert po_path(to_locale(code)).with_suffix(".mo").is_file(), code


@pytest.mark.parametrize("locale", list(PLURAL_FORMS))
def test_catalog_headers_name_the_language_and_its_plural_rule(locale):
    catalog = load(locale)
    headers = dict(catalog.mime_headers)
    assert headers["Language"] == locale
    assert headers["Plural-Forms"] == PLURAL_FORMS[locale]
    assert headers["Content-Type"].lower() == "text/plain; charset=utf-8"
    assert not catalog.fuzzy, "the header is still marked fuzzy"
    # Follow Django: its own catalog for the language uses the same rule.
    django_po = Path(django.__file__).parent / "conf" / "locale" / locale / "LC_MESSAGES" / "django.po"
    if django_po.is_file():
        with django_po.open("rb") as f:
            assert dict(read_po(f, locale=None).mime_headers)["Plural-Forms"].rstrip(";") \
                == PLURAL_FORMS[locale].rstrip(";")


@pytest.mark.parametrize("locale", list(PLURAL_FORMS))
def test_no_message_is_untranslated_fuzzy_or_obsolete(locale):
    catalog = load(locale)
    assert len([m for m in catalog if m.id]) > 200
    untranslated = [ids(m)[0] for m in catalog if m.id and not all(s.strip() for s in forms(m))]
    fuzzy = [ids(m)[0] for m in catalog if m.id and m.fuzzy]
    assert untranslated == []
    assert fuzzy == []
    assert not catalog.obsolete, "drop the #~ entries: they are no longer in the source"


@pytest.mark.parametrize("locale, msgid, context", ALL_ENTRIES)
def test_translation_keeps_exactly_the_placeholders_and_plural_forms(locale, msgid, context):
    message = load(locale).get(msgid, context=context)
    catalog_plurals = load(locale).num_plurals
    expected = set().union(*(placeholders(i) for i in ids(message)))
    if message.pluralizable:
        assert len(forms(message)) == catalog_plurals
    for text in forms(message):
        assert placeholders(text) == expected, text
        if message.python_format and formats(ids(message)[0], expected):
            # Formats as the code does: no stray %, no unknown name. (A msgid that cannot be
            # %-formatted itself, such as "strftime codes: %d day, %m month, %Y year.", is not
            # formatted by the code either: its literal %m must stay a literal %m.)
            names = {p[2:p.index(")")] for p in expected if p.startswith("%(")}
            positional = [p for p in expected if not p.startswith("%(")]
            text % ({name: 1 for name in names} if names else tuple(1 for _p in positional))
        # Same leading/trailing whitespace: the templates glue these strings to other text.
        assert text[:1].isspace() == ids(message)[0][:1].isspace()
        assert text[-1:].isspace() == ids(message)[0][-1:].isspace()


@pytest.mark.parametrize("locale", list(PLURAL_FORMS))
def test_compiled_file_is_current_with_the_catalog(locale):
    """The .mo holds exactly what the .po says, i.e. compilemessages ran after the last edit.

    Compared by content rather than by modification time: git does not keep file times, so on
    a fresh checkout the .mo can be a few milliseconds "older" than the .po it was compiled from.
    """
    po = po_path(locale)
    with po.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    catalog = compiled._catalog  # msgid -> msgstr, (msgid, n) -> plural form n
    expected = {}
    for message in load(locale):
        if not message.id:
            continue
        key = f"{message.context}\x04{ids(message)[0]}" if message.context else ids(message)[0]
        if message.pluralizable:
            for n, text in enumerate(forms(message)):
                expected[(key, n)] = text
        else:
            expected[key] = message.string
    assert {k: v for k, v in catalog.items() if k != ""} == expected
    assert compiled.plural(1) == 0 and compiled.plural(5) == (0 if locale == "zh_Hans" else 1)
    assert compiled.info()["plural-forms"] == PLURAL_FORMS[locale]


# -- the pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", TRANSLATED)
def test_navigation_is_translated(lead, account, code):
    body = page(lead, code, "/accounts/")
    nav = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', body, re.S).group(1)
    labels = re.findall(r">([^<]+)</a>", nav)
    assert labels == [escape(label) for label in EXPECTED[code]["nav"]]
    assert re.search(r'aria-current="page">' + re.escape(escape(EXPECTED[code]["nav"][1])) + "<", nav)


@pytest.mark.parametrize("code", TRANSLATED)
def test_account_list_is_translated(lead, account, code):
    body = page(lead, code, reverse("accounts:list"))
    for text in EXPECTED[code]["list"]:
        assert shows(body, text), text
    for english in ("KAM workload", "New account", "Lifecycle", "Log out", "Key status", "Any KAM"):
        assert english not in body, english


@pytest.mark.parametrize("code", TRANSLATED)
def test_account_detail_is_translated(lead, account, code):
    body = page(lead, code, reverse("accounts:detail", args=[account.pk]))
    for text in EXPECTED[code]["detail"]:
        assert shows(body, text), text
    for english in ("Account team", "Change history", "Key competitors", "Tier history"):
        assert english not in body, english


@pytest.mark.parametrize("code", TRANSLATED)
def test_area_to_come_is_translated(lead, code):
    body = page(lead, code, reverse("reports"))
    assert f"<h1>{escape(EXPECTED[code]['nav'][6])}</h1>" in body
    assert shows(body, EXPECTED[code]["health"][0])  # "Coming next"
    assert "Coming next" not in body and "not built yet" not in body


@pytest.mark.parametrize("code", TRANSLATED)
def test_health_area_is_translated(lead, code):
    body = page(lead, code, reverse("health:dashboard"))
    assert escape(EXPECTED[code]["nav"][5]) in body
    assert shows(body, EXPECTED[code]["health"][1]), EXPECTED[code]["health"][1]  # the health score
    for english in ("At-risk queue", "Premium upsell opportunity", "MRR at risk"):
        assert english not in body, english


@pytest.mark.parametrize("code", TRANSLATED)
def test_plural_forms_reach_the_page(lead, make_account, code):
    for n in range(4):
        make_account()
    body = page(lead, code, reverse("accounts:list"))
    many = {"nl": "4 accounts", "de": "4 Accounts", "it": "4 account", "zh-hans": "4 个客户", "fa": "۴ حساب"}
    assert many[code] in body


# The three areas built after the first catalogs: their page headings, tabs and section titles,
# checked in a left-to-right and a right-to-left language.
AREAS = {
    "de": {
        "portfolio": ("Portfolio", ["Übersicht", "Pareto", "Wiederkehrender Umsatz", "Rentabilität", "Konzentration",
                                    "Customer Lifetime Value", "Importe", "Anwenden"]),
        "pareto": ("Pareto-Analyse: die wenigen Wesentlichen", ["Übersicht", "Wiederkehrender Umsatz"]),
        "relationships": ("Beziehungen", ["Vernachlässigte Beziehungen", "Ihre offenen nächsten Schritte",
                                          "Wen bei den Key Accounts gewinnen", "Tagen oder länger"]),
        "map": (None, ["Map", "Tabelle", "Wen gewinnen", "Kontaktprotokoll", "Stakeholder hinzufügen",
                       "Einflusslinie hinzufügen", "Stakeholder-Details"]),
        "selection": ("Auswahl", ["Bewertungsmatrix", "Wachstum × Harmonie", "Kriterien", "Runden und Vorschläge",
                                  "Reviews", "Wachstumspotenzial", "Harmonie"]),
        "rounds": ("Auswahl", ["Kapazität", "Auswahlrunde durchführen", "Runden"]),
        "reviews": ("Auswahl", ["Rhythmus", "Review durchführen"]),
    },
    "fa": {
        "portfolio": ("سبد مشتریان", ["نمای کلی", "پارتو", "درآمد مکرر", "سودآوری", "تمرکز", "ارزش طول عمر",
                                       "ورود داده‌ها", "اعمال"]),
        "pareto": ("تحلیل پارتو: اقلیت حیاتی", ["نمای کلی", "درآمد مکرر"]),
        "relationships": ("روابط", ["روابط رهاشده", "گام‌های بعدی باز شما", "در حساب‌های کلیدی چه کسی را جذب کنیم",
                                    "روز یا بیشتر"]),
        "map": (None, ["نقشه", "جدول", "چه کسی را جذب کنیم", "گزارش تعاملات", "افزودن ذی‌نفع", "افزودن خط نفوذ",
                       "جزئیات ذی‌نفع"]),
        "selection": ("انتخاب", ["ماتریس امتیازدهی", "رشد × هماهنگی", "معیارها", "دورها و پیشنهادها", "بازبینی‌ها",
                                 "پتانسیل رشد", "هماهنگی"]),
        "rounds": ("انتخاب", ["ظرفیت", "برگزاری دور انتخاب", "دورها"]),
        "reviews": ("انتخاب", ["دوره", "انجام بازبینی"]),
    },
}
# English that must not be left on those pages.
AREA_ENGLISH = {
    "portfolio": ["Overview", "Recurring revenue", "Profitability", "Concentration", "Lifetime value", "Imports"],
    "pareto": ["Pareto: the vital few", "Recurring revenue"],
    "relationships": ["Stale relationships", "Your open next steps", "Who to win on the key accounts", "days or more"],
    "map": ["Interaction log", "Add stakeholder", "Add influence line", "Stakeholder details", "Who to win"],
    "selection": ["Scoring matrix", "Growth × harmony", "Criteria", "Rounds and proposals", "Growth potential",
                  "Harmony"],
    "rounds": ["Take a selection round", "Rounds and proposals"],
    "reviews": ["Run a review", "Cadence"],
}


def area_path(name: str, account) -> str:
    return {
        "portfolio": reverse("revenue:portfolio"),
        "pareto": reverse("revenue:analysis", args=["pareto"]),
        "relationships": reverse("relationships:portfolio"),
        "map": reverse("relationships:map", args=[account.pk]),
        "selection": reverse("scoring:matrix"),
        "rounds": reverse("scoring:rounds"),
        "reviews": reverse("scoring:reviews"),
    }[name]


@pytest.mark.parametrize("code", list(AREAS))
@pytest.mark.parametrize("name", list(AREA_ENGLISH))
def test_new_area_headings_are_translated(lead, account, code, name):
    body = page(lead, code, area_path(name, account))
    heading, texts = AREAS[code][name]
    if heading is not None:
        h1 = re.search(r"<h1>(.*?)</h1>", body, re.S).group(1).strip()
        assert h1 == escape(heading), h1
    for text in texts:
        assert shows(body, text), text
    for english in AREA_ENGLISH[name]:
        assert not re.search(r">\s*" + re.escape(escape(english)) + r"\s*<", body), english


@pytest.mark.parametrize("code", list(AREAS))
def test_new_area_navigation_is_translated(lead, code):
    """The main navigation names the three new areas in the language, on their own pages too."""
    for name, english in (("portfolio", "Portfolio"), ("selection", "Selection"), ("relationships", "Relationships")):
        path = {"portfolio": reverse("revenue:portfolio"), "selection": reverse("scoring:matrix"),
                "relationships": reverse("relationships:portfolio")}[name]
        body = page(lead, code, path)
        nav = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', body, re.S).group(1)
        label = EXPECTED[code]["nav"][NAV.index(english)]
        assert re.search(r'aria-current="page">' + re.escape(escape(label)) + "<", nav), (name, label)
