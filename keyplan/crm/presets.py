"""The column names of the common CRMs' exports, per import kind: recognised from a file's header, or chosen.

Written from each product's public description of its records and exports:

- **Salesforce** report exports name columns by field label: ``Account ID``, ``Account Name``, ``Parent
  Account ID``, ``Billing Country``, ``Account Owner`` …; a contacts report ``Contact ID``, ``First Name``,
  ``Reports To ID``, ``Contact Owner`` … (object reference: Account, Contact).
- **HubSpot** exports properties by label: ``Record ID``, ``Company name``, ``Number of Employees``,
  ``Country/Region``, ``Company owner``, ``Lifecycle Stage``; contacts ``Record ID``, ``Job Title``,
  ``Contact owner`` and the associated company's ``Associated Company IDs (Primary)``.
- **Dynamics 365** "Export to Excel" puts the row's id in a hidden first column ``(Do Not Modify) Account``
  (``(Do Not Modify) Contact``) and labels the rest by display name: ``Account Name``, ``Address 1:
  City``, ``Address 1: Country/Region``, ``Relationship Type``, ``Owner``; lookups (parent account, a
  contact's company and manager) are exported as names.
- **Odoo** exports ``res.partner`` by field label, with ``/ID`` for a related record's external id:
  ``ID``, ``Name``, ``Related Company/ID``, ``Job Position``, ``Salesperson``.
- **Pipedrive** exports prefix each column with its object: ``Organization - ID``, ``Organization - Name``,
  ``Organization - Owner``; ``Person - ID``, ``Person - Name``, ``Person - Email``, ``Person - Organization``.

Lookups exported as names (Dynamics' parent account and manager, owners as full names) are resolved by
the import by name where exactly one record or user has it.
"""

from __future__ import annotations

from keyplan.crm import columns
from keyplan.revenue.reading import normalise

PRESETS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "Salesforce": {
        "accounts": {
            "external_id": ("Account ID", "Account ID (18)"), "name": ("Account Name",),
            "parent": ("Parent Account ID",), "industry": ("Industry",), "employees": ("Employees",),
            "country": ("Billing Country", "Billing Country Code"), "city": ("Billing City",), "website": ("Website",),
            "lifecycle": ("Type", "Account Type"), "reporting_currency": ("Account Currency",), "kam": ("Account Owner",),
        },
        "stakeholders": {
            "contact_id": ("Contact ID",), "account_id": ("Account ID",), "first_name": ("First Name",),
            "last_name": ("Last Name",), "title": ("Title",), "department": ("Department",), "email": ("Email",),
            "phone": ("Phone", "Business Phone"), "reports_to": ("Reports To ID", "Reports To"), "owner": ("Contact Owner",),
        },
    },
    "HubSpot": {
        "accounts": {
            "external_id": ("Record ID", "Company ID"), "name": ("Company name",), "parent": ("Parent Company ID",),
            "industry": ("Industry",), "employees": ("Number of Employees",), "country": ("Country/Region", "Country"),
            "city": ("City",), "time_zone": ("Time Zone",), "website": ("Website URL", "Company Domain Name"),
            "lifecycle": ("Lifecycle Stage",), "kam": ("Company owner",),
        },
        "stakeholders": {
            "contact_id": ("Record ID", "Contact ID"),
            "account_id": ("Associated Company IDs (Primary)", "Associated Company ID", "Primary Associated Company ID"),
            "first_name": ("First Name",), "last_name": ("Last Name",), "title": ("Job Title",), "email": ("Email",),
            "phone": ("Phone Number",), "owner": ("Contact owner",),
        },
    },
    "Dynamics 365": {
        "accounts": {
            "external_id": ("(Do Not Modify) Account",), "name": ("Account Name",), "parent": ("Parent Account",),
            "industry": ("Industry",), "employees": ("Number of Employees", "No. of Employees"),
            "country": ("Address 1: Country/Region", "Address 1: Country"), "city": ("Address 1: City",),
            "website": ("Website",), "lifecycle": ("Relationship Type",), "kam": ("Owner",),
        },
        "stakeholders": {
            "contact_id": ("(Do Not Modify) Contact",), "account_id": ("Company Name", "Parent Customer", "Account Name"),
            "name": ("Full Name",), "first_name": ("First Name",), "last_name": ("Last Name",), "title": ("Job Title",),
            "department": ("Department",), "email": ("Email",), "phone": ("Business Phone",), "reports_to": ("Manager",),
            "owner": ("Owner",),
        },
    },
    "Odoo": {
        "accounts": {
            "external_id": ("ID", "External ID"), "name": ("Name", "Display Name"), "parent": ("Related Company/ID",),
            "industry": ("Industry",), "country": ("Country",), "city": ("City",), "website": ("Website",),
            "kam": ("Salesperson",),
        },
        "stakeholders": {
            "contact_id": ("ID", "External ID"), "account_id": ("Related Company/ID", "Company/ID"), "name": ("Name",),
            "title": ("Job Position",), "email": ("Email",), "phone": ("Phone", "Mobile"), "owner": ("Salesperson",),
        },
    },
    "Pipedrive": {
        "accounts": {
            "external_id": ("Organization - ID",), "name": ("Organization - Name",), "industry": ("Organization - Industry",),
            "employees": ("Organization - Number of employees", "Organization - Employee count"),
            "country": ("Organization - Country of Address", "Organization - Address - Country"),
            "city": ("Organization - City/town/village/locality of Address", "Organization - Address - City"),
            "website": ("Organization - Website",), "kam": ("Organization - Owner",),
        },
        "stakeholders": {
            "contact_id": ("Person - ID",), "account_id": ("Organization - ID", "Person - Organization ID", "Person - Organization"),
            "name": ("Person - Name",), "first_name": ("Person - First name",), "last_name": ("Person - Last name",),
            "title": ("Person - Job title",), "email": ("Person - Email", "Person - Email - Work"),
            "phone": ("Person - Phone", "Person - Phone - Work"), "owner": ("Person - Owner",),
        },
    },
}
NAMES = tuple(PRESETS)
BASE = {"accounts": columns.ACCOUNT_FIELDS, "stakeholders": columns.STAKEHOLDER_FIELDS}


def find(name: str | None) -> str | None:
    """The preset of this name, case and spaces aside (``dynamics`` is Dynamics 365)."""
    if not name:
        return None
    key = normalise(name)
    for preset in NAMES:
        if normalise(preset) == key or normalise(preset).split("_")[0] == key:
            return preset
    return None


def _own(preset: str, kind: str) -> dict[str, tuple[str, ...]]:
    return {name: tuple(normalise(h) for h in headers) for name, headers in PRESETS[preset][kind].items()}


def _label(header: str) -> str:
    return " ".join(str(header).split()).casefold()


KEYS = {"accounts": ("external_id",), "stakeholders": ("contact_id", "account_id")}


def detect(headers: list[str], kind: str) -> str | None:
    """The CRM whose export this header looks like, else None: the preset that names the most columns by their
    label as that CRM writes it (``Account ID``, not Keyplan's ``account_id``), at least three of them and its
    id column among them, and more than any other preset."""
    labels = {_label(h) for h in headers if h}
    scores = []
    for preset in NAMES:
        own = PRESETS[preset][kind]
        found = {name for name, names in own.items() if labels & {_label(n) for n in names}}
        if found & set(KEYS[kind]) and len(found) >= 3:
            scores.append((len(found), preset))
    scores.sort(reverse=True)
    if not scores or (len(scores) > 1 and scores[0][0] == scores[1][0]):
        return None
    return scores[0][1]


def fields(kind: str, preset: str | None = None) -> dict[str, tuple[str, ...]]:
    """The synonyms to map a file of ``kind`` with: the preset's own column names first, then Keyplan's; without
    a preset, every preset's names after Keyplan's (so that the header row is found in any export)."""
    base = BASE[kind]
    if preset is not None:
        own = _own(preset, kind)
        return {name: (*own.get(name, ()), *synonyms) for name, synonyms in base.items()}
    merged = {name: list(synonyms) for name, synonyms in base.items()}
    for p in NAMES:
        for name, synonyms in _own(p, kind).items():
            merged[name] += [s for s in synonyms if s not in merged[name]]
    return {name: tuple(synonyms) for name, synonyms in merged.items()}
