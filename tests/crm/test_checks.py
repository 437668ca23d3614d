"""The column-wise checks of CRM imports say what the per-value rules said, value for value."""

import polars as pl
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from keyplan.crm import checks

EMAILS = ["ada@acme.example", "Ada.Boss+crm@Sub.Acme.COM", "a@b.co", "not-an-address", "two@@acme.example", "x@localhost",
          "trailing.@acme.example", '"quoted name"@acme.example', "ada@acme", "ada@-acme.example", "ada@acme-.example",
          "ada@acme.c", "ada@acme.123", "ada@xn--bcher-kva.example", "jörg@müller.de", "ada@[127.0.0.1]", "a" * 65 + "@acme.example",
          "ada@" + "a" * 64 + ".example", "ada@acme.example\n", "ada@acme.example.", "o'brien@acme.ie", ""]
URLS = ["https://acme.example", "https://www.acme.example/path?q=1#top", "http://acme.example:8080/", "https://acme",
        "https://-acme.example", "https://acme.example/with space", "https://localhost", "https://127.0.0.1",
        "https://müller.de", "https://acme.example\t", "ftp://acme.example", "https://" + "a" * 64 + ".example",
        "https://acme.example/\x1c", "https://user:pw@acme.example", "https://[::1]/", "https://acme.c0m"]


def _accepts(validator, value: str) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def test_addresses_are_accepted_exactly_where_django_accepts_them():
    emails = pl.Series("email", EMAILS)
    assert checks.valid_emails(emails).to_list() == [_accepts(EmailValidator(), e) for e in EMAILS]
    urls = pl.Series("website", URLS)
    assert checks.valid_urls(urls).to_list() == [_accepts(URLValidator(), u) for u in URLS]


def test_a_cell_reads_as_python_splits_it_and_lookups_run_once_per_value():
    cells = [" Acme  Group ", "a\u2003b", "\x1c", "x\x1dy", " ", None, "Ünïcode\u00a0 name", "tab\tand\nnewline"]
    read = pl.DataFrame({"c": cells}).select(checks.text("c"))["c"].to_list()
    assert read == [(" ".join(c.split()) or None) if c is not None else None for c in cells]
    calls = []

    def upper(value):
        calls.append(value)
        return value.upper()

    values = pl.Series("v", ["de", "nl", "de", None, "de"])
    assert checks.lookup(values, upper, pl.String).to_list() == ["DE", "NL", "DE", None, "DE"]
    assert sorted(calls) == ["de", "nl"]
    mixed = pl.Series("v", ["Straße@X.example", "ADA@acme.example", None])
    assert checks.folded(mixed).to_list() == ["strasse@x.example", "ada@acme.example", None]


def test_cycles_are_found_from_each_member_and_only_there():
    edges = pl.DataFrame({"node": [1, 2, 3, 4, 5, 6, 7], "up": [2, 3, 1, 1, 6, 5, 8]})
    found = checks.cycles_of(edges, pl.Series([1, 2, 3, 4, 5, 7]))
    assert found == {1: [1, 2, 3, 1], 2: [2, 3, 1, 2], 3: [3, 1, 2, 3], 5: [5, 6, 5]}
    chain = pl.DataFrame({"node": list(range(1, 200)), "up": list(range(2, 201))})  # deeper than the column-wise pass
    assert checks.cycles_of(chain, chain["node"]) == {}
    ring = pl.DataFrame({"node": list(range(1, 200)), "up": [*range(2, 200), 1]})
    assert checks.cycles_of(ring, pl.Series([150]))[150][:3] == [150, 151, 152]
