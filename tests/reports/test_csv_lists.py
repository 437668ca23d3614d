"""Every list page downloads as CSV: what the reader filtered, their accounts only, streamed, no formulas."""

import csv
import datetime
import io
import tracemalloc

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from keyplan.accounts.models import Account
from keyplan.accounts.services import add_team_member
from tests.conftest import client_for

EVIL = '=HYPERLINK("http://evil.example","Click")'


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the accents right
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def accounts(lead, kam, make_account):
    made = {
        "A": make_account("Firm A", external_id="F-A", industry="chemicals"),
        "B": make_account(EVIL, external_id="F-B", industry="chemicals"),
        "C": make_account("@SUM(1+1)", external_id="F-C", industry="retail"),
    }
    add_team_member(made["B"], by=lead, user=kam, role="kam")
    return made


def test_the_account_list_downloads_what_was_filtered(lead, accounts):
    client = client_for(lead)
    page = client.get(reverse("accounts:list"), {"industry": "chemicals"}).content.decode()
    link = page.split('class="csv-link" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "industry=chemicals" in link and "format=csv" in link
    response = client.get(reverse("accounts:list") + link)
    assert response["Content-Disposition"] == 'attachment; filename="accounts.csv"'
    rows = _rows(response)
    assert rows[0][:3] == ["Name", "External id", "Key status"]
    assert sorted(row[1] for row in rows[1:]) == ["F-A", "F-B"]
    assert "'" + EVIL in [row[0] for row in rows] and EVIL not in [row[0] for row in rows]


def test_a_team_members_csv_holds_only_their_accounts(kam, accounts):
    rows = _rows(client_for(kam).get(reverse("accounts:list"), {"format": "csv"}))
    assert [row[1] for row in rows[1:]] == ["F-B"]
    assert rows[1][7] == "Karl Kam"  # the KAM column


def test_bad_filters_are_refused_naming_the_field(lead, accounts):
    response = client_for(lead).get(reverse("accounts:list"), {"format": "csv", "tier": "nonsense"})
    assert response.status_code == 400 and "Key status:" in response.content.decode()


def test_headings_follow_the_readers_language(lead, accounts):
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    rows = _rows(client.get(reverse("accounts:list"), {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="de"))
    assert rows[0][0] == "Name" and rows[0][2] == "Key-Account-Status"


def test_many_rows_stream_without_sitting_in_memory(lead, db):
    """10,000 accounts: the response is read a chunk at a time; memory stays far below the size of the file."""
    Account.objects.bulk_create([Account(name=f"Account {n:05d} with a long enough name", external_id=f"M-{n:05d}")
                                 for n in range(10_000)], batch_size=2000)
    response = client_for(lead).get(reverse("accounts:list"), {"format": "csv"})
    assert isinstance(response, StreamingHttpResponse)
    tracemalloc.start()
    size, lines = 0, 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    everything = list(Account.objects.all())  # what a list that loads every row would hold at once
    _current, loaded = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == 10_001 and len(everything) == 10_000
    assert peak < loaded / 2, (peak, loaded, size)  # one chunk of rows at a time (about 5 MB), whatever the count


@pytest.fixture
def world(accounts, lead, kam, today):
    """Scores, a plan, a risk case, stakeholders and an interaction on the KAM's account (F-B) and on F-A."""
    from keyplan.accounts.services import set_tier
    from keyplan.health import services as health
    from keyplan.planning import services as planning
    from keyplan.relationships import services as relationships
    from keyplan.scoring import services as scoring

    fit = scoring.create_criterion(by=lead, name="Product fit", group="growth", weight=100)
    culture = scoring.create_criterion(by=lead, name="Cultural fit", group="harmony", weight=100)
    for n, account in enumerate(accounts.values()):
        scoring.set_score(account, by=lead, criterion=fit, value=9 - n)
        scoring.set_score(account, by=lead, criterion=culture, value=5)
        set_tier(account, by=lead, tier="key", reason="Selected")
        health.open_case(account, by=lead, reason=f"Case of {account.external_id}")
        planning.create_plan(account, by=lead, period=f"FY{today.year}")
        person = relationships.create_stakeholder(account, by=lead, data={"name": f"=cmd of {account.external_id}",
                                                                          "department": "Finance"})
        relationships.create_stakeholder(account, by=lead, data={"name": f"Buyer of {account.external_id}",
                                                                 "department": "Purchasing", "is_key_contact": True})
        relationships.log_interaction(account, by=lead, kind="call", date=today, summary="+ordered more",
                                      stakeholders=[person], next_step="Send quote",
                                      next_step_owner=kam if account.external_id == "F-B" else lead)
    return accounts


def _list(user, name, args=(), **query) -> list[list[str]]:
    return _rows(client_for(user).get(reverse(name, args=args), {"format": "csv", **query}))


def test_the_scoring_matrix_downloads_filtered_and_sorted(lead, kam, world):
    rows = _list(lead, "scoring:matrix", industry="chemicals")
    assert rows[0][:3] == ["Rank", "Account", "External id"] and rows[0][-2:] == ["Product fit", "Cultural fit"]
    assert [row[2] for row in rows[1:]] == ["F-A", "F-B"] and rows[1][-2:] == ["9", "5"]
    assert [row[2] for row in _list(kam, "scoring:matrix")[1:]] == ["F-B"]


def test_plans_queue_reviews_and_stale_lists_hold_the_readers_accounts(lead, kam, world):
    assert sorted(row[1] for row in _list(lead, "planning:portfolio")[1:]) == ["F-A", "F-B", "F-C"]
    assert [row[1] for row in _list(kam, "planning:portfolio")[1:]] == ["F-B"]
    queue = _list(kam, "health:queue")
    assert queue[0][:3] == ["Account", "External id", "MRR at risk"] and [row[1] for row in queue[1:]] == ["F-B"]
    assert queue[1][-1] == "Case of F-B"
    assert [row[1] for row in _list(kam, "health:reviews")[1:]] == ["F-B"]
    stale = _list(kam, "relationships:portfolio")
    assert {row[1] for row in stale[1:]} == {"F-B"} and "Buyer of F-B" in {row[2] for row in stale[1:]}


def test_an_accounts_stakeholders_and_interactions_download_as_filtered(lead, kam, world):
    account = world["B"]
    people = _list(kam, "relationships:table", args=[account.pk], department="Finance")
    assert [row[0] for row in people[1:]] == ["'=cmd of F-B"]  # neutralised, and only the Finance department
    log = _list(kam, "relationships:interactions", args=[account.pk])
    assert log[1][2] == "'+ordered more" and log[1][5] == "Send quote" and log[1][6] == "Karl Kam"
    other = world["A"]
    assert client_for(kam).get(reverse("relationships:table", args=[other.pk]), {"format": "csv"}).status_code == 404
