"""Every list page downloads as CSV: what the reader filtered, their accounts only, streamed, no formulas."""

import csv
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


# ---------------------------------------------------------------- imports, workload, rounds, reviews, notifications,
# who-to-win boards (issue 16: "CSV export of every list page")


def test_who_to_win_downloads_per_account_and_as_the_boards(lead, kam, world):
    account = world["B"]
    rows = _list(kam, "relationships:who_to_win", args=[account.pk])
    assert rows[0][:4] == ["Account", "External id", "Rank", "Stakeholder"]
    assert rows[1][0] == "'" + EVIL and {row[3] for row in rows[1:]} == {"'=cmd of F-B", "Buyer of F-B"}
    assert [row[2] for row in rows[1:]] == ["1", "2"]
    boards = _list(kam, "relationships:portfolio", list="who-to-win")
    assert {row[1] for row in boards[1:]} == {"F-B"}  # the KAM's key account only
    assert {row[1] for row in _list(lead, "relationships:portfolio", list="who-to-win")[1:]} == {"F-A", "F-B", "F-C"}
    assert client_for(kam).get(reverse("relationships:who_to_win", args=[world["A"].pk]), {"format": "csv"}).status_code == 404


def test_rounds_and_reviews_of_key_status_download(lead, kam, world):
    from keyplan.scoring import services as scoring

    scoring.create_round(by=lead, name="=Spring round", refresh=False)
    scoring.run_review(by=lead, notes="@all: look")
    rounds = _list(kam, "scoring:rounds")
    assert rounds[0][:2] == ["Round", "Date"] and rounds[1][0] == "'=Spring round"
    reviews = _list(lead, "scoring:reviews")
    assert reviews[0][:3] == ["As of", "Cadence", "Judges round"]
    assert len(reviews) == 2 and reviews[1][2] == "'=Spring round" and "'@all: look" in reviews[1]


def test_notifications_download_the_readers_own(lead, kam, world):
    from keyplan.health.models import Notification

    Notification.objects.create(user=kam, account=world["B"], kind="stale", key="s1",
                                params={"code": "stale_never", "person": "=cmd", "account": "F-B"})
    Notification.objects.create(user=lead, account=world["A"], kind="stale", key="s2",
                                params={"code": "stale_never", "person": "Ann", "account": "F-A"})
    rows = _list(kam, "health:notifications")
    assert rows[0][:3] == ["Date", "Account", "External id"] and [row[2] for row in rows[1:]] == ["F-B"]
    assert rows[1][4] == "'=cmd at F-B has never been contacted."


def test_imports_and_workload_download_for_who_may_see_them(lead, kam, world):
    from keyplan.revenue.models import ImportBatch

    ImportBatch.objects.create(kind="ledger", file_name="=evil.csv", file_sha256="0" * 64, status="done", created_by=lead,
                               rows_total=12, rows_imported=10, rows_rejected=2)
    batches = _list(lead, "revenue:imports")
    assert batches[0][:4] == ["Batch", "Kind", "File", "Status"]
    assert batches[1][2] == "'=evil.csv" and batches[1][7:11] == ["12", "10", "0", "2"]
    assert client_for(kam).get(reverse("revenue:imports"), {"format": "csv"}).status_code == 403
    workload = _list(lead, "accounts:workload")
    assert workload[0][:3] == ["Key account manager", "Key accounts", "Capacity"]
    assert [row[0] for row in workload[1:]] == ["Karl Kam"] and workload[1][1] == "1"
    assert workload[1][5] == "'" + EVIL


def test_the_new_lists_speak_the_readers_language(lead, world):
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    rows = _rows(client.get(reverse("accounts:workload"), {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="de"))
    assert rows[0][3] == "Über der Kapazität"
