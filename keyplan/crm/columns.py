"""The columns a CRM export may have for each import kind, and how their values read.

Each field lists the header names (normalised: lower case, ``_`` between words) that name it in
Keyplan's own files, in Dutch, German and Italian files, and in the exports of the common CRMs
(`presets` adds those). Values are read leniently where CRMs differ only in spelling (``Customer``,
``customer``, ``CUSTOMER`` …) and refused with a reason where a guess would be wrong.
"""

from __future__ import annotations

import re
from functools import cache

from django.utils.translation import gettext_lazy as _

from keyplan.accounts.models import Industry, Lifecycle, Tier
from keyplan.relationships.models import BuyingRole, DecisionPower, Sentiment

ACCOUNT_FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id", "account_id", "id", "account_number", "customer_id", "customer_number", "klantnummer",
                    "kundennummer", "codice_cliente"),
    "name": ("name", "account_name", "company", "company_name", "organisation", "organization", "customer", "naam",
             "bedrijfsnaam", "firma", "firmenname", "ragione_sociale"),
    "parent": ("parent", "parent_id", "parent_account", "parent_account_id", "parent_external_id", "moederbedrijf",
               "muttergesellschaft", "capogruppo"),
    "industry": ("industry", "sector", "branche", "industrie", "settore"),
    "employees": ("employees", "size", "number_of_employees", "employee_count", "medewerkers", "mitarbeiter", "dipendenti"),
    "country": ("country", "billing_country", "land", "paese", "nazione"),
    "city": ("city", "billing_city", "plaats", "stad", "stadt", "ort", "citta"),
    "time_zone": ("time_zone", "timezone", "tijdzone", "zeitzone", "fuso_orario"),
    "website": ("website", "web", "url", "web_site", "webseite", "sito_web"),
    "lifecycle": ("lifecycle", "lifecycle_stage", "account_type", "type", "levenscyclus", "lebenszyklus", "ciclo_di_vita"),
    "reporting_currency": ("reporting_currency", "currency", "account_currency", "valuta", "wahrung", "waehrung", "divisa"),
    "tier": ("tier", "key_status", "account_tier"),
    "tier_reason": ("tier_reason", "reason", "key_status_reason", "reden", "grund", "motivo"),
    "kam": ("kam", "key_account_manager", "account_manager", "account_owner", "owner", "eigenaar", "verantwortlich",
            "responsabile"),
    "executive_sponsor": ("executive_sponsor", "sponsor"),
}
ACCOUNT_REQUIRED = ("external_id", "name")
ACCOUNT_NUMBERS = ("employees",)

STAKEHOLDER_FIELDS: dict[str, tuple[str, ...]] = {
    "account_id": ("account_id", "account", "account_external_id", "customer_id", "klantnummer", "kundennummer",
                   "codice_cliente"),
    "contact_id": ("contact_id", "contact", "person_id", "record_id", "contactpersoon_id", "kontakt_id", "id_contatto"),
    "name": ("name", "full_name", "contact_name", "naam", "volledige_naam", "nome", "nome_completo"),
    "first_name": ("first_name", "firstname", "given_name", "voornaam", "vorname"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "achternaam", "nachname", "cognome"),
    "title": ("title", "job_title", "position", "functie", "funktion", "titel", "titolo", "ruolo"),
    "department": ("department", "afdeling", "abteilung", "reparto"),
    "email": ("email", "e_mail", "email_address", "mail", "e_mailadres", "e_mail_adresse", "indirizzo_email"),
    "phone": ("phone", "phone_number", "telephone", "telefoon", "telefon", "telefono", "mobile", "mobile_phone"),
    "reports_to": ("reports_to", "manager", "reports_to_email", "reports_to_id", "rapporteert_aan", "vorgesetzter",
                   "responsabile_diretto"),
    "buying_role": ("buying_role", "role", "contact_role", "rol", "rolle", "ruolo_acquisto"),
    "decision_power": ("decision_power", "influence", "beslissingsmacht", "entscheidungsmacht", "potere_decisionale"),
    "sentiment": ("sentiment", "attitude", "houding", "haltung", "atteggiamento"),
    "key_contact": ("key_contact", "is_key_contact", "primary_contact", "primary", "sleutelcontact", "hauptkontakt",
                    "contatto_chiave"),
    "owner": ("owner", "contact_owner", "relationship_owner", "eigenaar", "verantwortlich", "responsabile"),
}
STAKEHOLDER_REQUIRED = ("account_id",)

# What each field is called on the preview.
LABELS = {
    "external_id": _("External id"), "name": _("Name"), "parent": _("Parent account (external id)"),
    "industry": _("Industry"), "employees": _("Employees"), "country": _("Country"), "city": _("City"),
    "time_zone": _("Time zone"), "website": _("Website"), "lifecycle": _("Lifecycle"),
    "reporting_currency": _("Reporting currency"), "tier": _("Key status"), "tier_reason": _("Reason for the key status"),
    "kam": _("Key account manager (e-mail or username)"), "executive_sponsor": _("Executive sponsor (e-mail or username)"),
    "account_id": _("Account id"), "contact_id": _("Contact id"), "first_name": _("First name"), "last_name": _("Last name"),
    "title": _("Title"), "department": _("Department"), "email": _("Email"), "phone": _("Phone"),
    "reports_to": _("Reports to (e-mail or contact id)"), "buying_role": _("Role in the buying decision"),
    "decision_power": _("Decision power"), "sentiment": _("Sentiment towards us"), "key_contact": _("Key contact point"),
    "owner": _("Relationship owner (e-mail or username)"),
}

# ---------------------------------------------------------------- values


def word(text: str | None) -> str:
    """A value as a key: lower case, accents and punctuation aside, ``_`` between words."""
    import unicodedata

    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


# Industries by keyword: CRMs keep their own lists (Salesforce's picklist, HubSpot's 150 industries, Odoo's
# NACE sectors); a keyword in the value decides, the first that matches. A value no keyword matches is
# refused with the list, not filed under "other" silently.
INDUSTRY_WORDS: tuple[tuple[str, str], ...] = (
    ("automotive", Industry.AUTOMOTIVE), ("auto", Industry.AUTOMOTIVE), ("chemical", Industry.CHEMICALS),
    ("pharma", Industry.HEALTHCARE), ("biotech", Industry.HEALTHCARE), ("health", Industry.HEALTHCARE),
    ("medical", Industry.HEALTHCARE), ("hospital", Industry.HEALTHCARE),
    ("bank", Industry.FINANCIAL), ("financ", Industry.FINANCIAL), ("insurance", Industry.FINANCIAL),
    ("investment", Industry.FINANCIAL), ("energy", Industry.ENERGY), ("utilit", Industry.ENERGY), ("oil", Industry.ENERGY),
    ("telecom", Industry.TELECOM), ("communication", Industry.TELECOM), ("wireless", Industry.TELECOM),
    ("software", Industry.TECHNOLOGY), ("technolog", Industry.TECHNOLOGY), ("computer", Industry.TECHNOLOGY),
    ("internet", Industry.TECHNOLOGY), ("electronic", Industry.TECHNOLOGY), ("information", Industry.TECHNOLOGY),
    ("semiconductor", Industry.TECHNOLOGY), ("logistic", Industry.LOGISTICS), ("transport", Industry.LOGISTICS),
    ("shipping", Industry.LOGISTICS), ("airline", Industry.LOGISTICS), ("retail", Industry.RETAIL),
    ("consumer", Industry.RETAIL), ("apparel", Industry.RETAIL), ("wholesale", Industry.RETAIL),
    ("construct", Industry.CONSTRUCTION), ("real_estate", Industry.CONSTRUCTION), ("building", Industry.CONSTRUCTION),
    ("food", Industry.FOOD), ("beverage", Industry.FOOD), ("agricult", Industry.FOOD), ("farming", Industry.FOOD),
    ("government", Industry.PUBLIC), ("public", Industry.PUBLIC), ("education", Industry.PUBLIC),
    ("not_for_profit", Industry.PUBLIC), ("non_profit", Industry.PUBLIC), ("consult", Industry.SERVICES),
    ("legal", Industry.SERVICES), ("accounting", Industry.SERVICES), ("services", Industry.SERVICES),
    ("staffing", Industry.SERVICES), ("media", Industry.MEDIA), ("entertainment", Industry.MEDIA),
    ("publishing", Industry.MEDIA), ("broadcast", Industry.MEDIA), ("manufactur", Industry.MANUFACTURING),
    ("machinery", Industry.MANUFACTURING), ("industrial", Industry.MANUFACTURING), ("engineering", Industry.MANUFACTURING),
    ("other", Industry.OTHER),
)


def industry(value: str) -> str | None:
    key = word(value)
    if key in Industry.values:
        return key
    labels = _industry_labels()
    if key in labels:
        return labels[key]
    for keyword, choice in INDUSTRY_WORDS:
        if keyword in key:
            return choice
    return None


LIFECYCLES = {
    **{v: v for v in Lifecycle.values},
    # Salesforce's account types, HubSpot's lifecycle stages, Dynamics' relationship types, and plain words
    "prospect": Lifecycle.PROSPECT, "lead": Lifecycle.PROSPECT, "subscriber": Lifecycle.PROSPECT,
    "marketingqualifiedlead": Lifecycle.PROSPECT, "salesqualifiedlead": Lifecycle.PROSPECT,
    "marketing_qualified_lead": Lifecycle.PROSPECT, "sales_qualified_lead": Lifecycle.PROSPECT,
    "opportunity": Lifecycle.PROSPECT, "potential": Lifecycle.PROSPECT, "new": Lifecycle.PROSPECT,
    "onboarding": Lifecycle.ONBOARDING, "implementation": Lifecycle.ONBOARDING,
    "customer": Lifecycle.ACTIVE, "customer_direct": Lifecycle.ACTIVE, "customer_channel": Lifecycle.ACTIVE,
    "client": Lifecycle.ACTIVE, "evangelist": Lifecycle.ACTIVE, "active": Lifecycle.ACTIVE, "klant": Lifecycle.ACTIVE,
    "kunde": Lifecycle.ACTIVE, "cliente": Lifecycle.ACTIVE, "actief": Lifecycle.ACTIVE, "aktiv": Lifecycle.ACTIVE,
    "attivo": Lifecycle.ACTIVE,
    "churned": Lifecycle.CHURNED, "former_customer": Lifecycle.CHURNED, "lost": Lifecycle.CHURNED,
    "inactive": Lifecycle.CHURNED, "ex_customer": Lifecycle.CHURNED, "gekundigt": Lifecycle.CHURNED,
}

TIERS = {
    **{v: v for v in Tier.values}, "key_account": Tier.KEY, "strategic": Tier.KEY, "a": Tier.KEY,
    "candidate_key_account": Tier.CANDIDATE, "b": Tier.CANDIDATE, "c": Tier.STANDARD, "normal": Tier.STANDARD,
}

BUYING_ROLES = {
    **{v: v for v in BuyingRole.values}, "decisionmaker": BuyingRole.DECISION_MAKER, "decider": BuyingRole.DECISION_MAKER,
    "economicbuyer": BuyingRole.ECONOMIC_BUYER, "budget_holder": BuyingRole.ECONOMIC_BUYER,
    "economic_decision_maker": BuyingRole.ECONOMIC_BUYER, "evaluator": BuyingRole.INFLUENCER,
    "technical_buyer": BuyingRole.INFLUENCER, "end_user": BuyingRole.USER, "business_user": BuyingRole.USER,
    "executive_sponsor": BuyingRole.DECISION_MAKER, "legal_and_compliance": BuyingRole.GATEKEEPER,
    "procurement": BuyingRole.GATEKEEPER, "other": "",
}
DECISION_POWERS = {**{v: v for v in DecisionPower.values}, "h": "high", "m": "medium", "l": "low", "3": "high",
                   "2": "medium", "1": "low"}
SENTIMENTS = {**{v: v for v in Sentiment.values}, "positive": "supporter", "promoter": "supporter", "champion": "supporter",
              "negative": "critic", "detractor": "critic", "opponent": "critic", "passive": "neutral"}
TRUE = frozenset({"1", "true", "yes", "y", "x", "ja", "si", "oui", "wahr", "waar", "checked"})
FALSE = frozenset({"", "0", "false", "no", "n", "nee", "nein", "non", "falsch", "onwaar", "unchecked"})


@cache
def _industry_labels() -> dict[str, str]:
    return {word(label): v for v, label in _english(Industry.choices)}


def _english(choices):
    from django.utils.translation import override

    with override("en"):
        return [(value, str(label)) for value, label in choices]


@cache
def _countries() -> dict[str, str]:
    from django.utils.translation import override
    from django_countries import countries

    found: dict[str, str] = {}
    with override("en"):
        for code, name in countries:
            found[word(name)] = code
            found[code.lower()] = code
            found[countries.alpha3(code).lower()] = code
    found.update({"usa": "US", "united_states": "US", "united_states_of_america": "US", "america": "US", "britain": "GB", "uk": "GB", "great_britain": "GB", "england": "GB",
                  "holland": "NL", "the_netherlands": "NL", "deutschland": "DE", "nederland": "NL", "italia": "IT",
                  "schweiz": "CH", "osterreich": "AT", "espana": "ES", "russia": "RU", "south_korea": "KR",
                  "korea": "KR", "czech_republic": "CZ", "turkey": "TR", "iran": "IR", "vietnam": "VN"})
    return found


def country(value: str) -> str | None:
    text = str(value).strip()
    if not text:
        return None
    return _countries().get(text.lower()) or _countries().get(word(text))


def website(value: str) -> str:
    """A web address as CRMs keep it (``acme.com``) with the scheme a link needs."""
    text = value.strip()
    return text if "://" in text else f"https://{text}"
