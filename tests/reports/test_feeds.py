"""Live feeds for Excel: a user makes a read-only feed token, Excel sends it in a header and refreshes the CSV or
JSON of a list or an analysis; the token reads only its user's accounts, and a revoked one reads nothing."""

import csv
import datetime
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from keyplan.accounts.services import add_team_member
from keyplan.revenue.services import import_ledger
from tests.conftest import client_for

TODAY = datetime.date.today()
EVIL = "=HYPERLINK(\"http://evil.example\")"


@pytest.fixture
def portfolio(tmp_path, lead, kam, make_account):
    accounts = {key: make_account(name, external_id=f"F-{key}", industry="chemicals" if key in "AB" else "retail")
                for key, name in {"A": "Firm A", "B": EVIL, "C": "Firm C"}.items()}
    rows = ["line_id,account_id,date,amount,cost"]
    for n, key in enumerate("ABC"):
        rows.append(f"L{key},F-{key},{TODAY.replace(day=1)},{(3 - n) * 100},{(3 - n) * 30}")
    (tmp_path / "ledger.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead).error_count == 0
    add_team_member(accounts["B"], by=lead, user=kam, role="kam")
    return accounts


def _token(user, name="Excel") -> str:
    """A feed token made the way a user makes one: on the Live feeds page."""
    page = client_for(user).post(reverse("reports:feeds"), {"name": name}).content.decode()
    return page.split('data-testid="new-feed-token">')[1].split("<")[0]


def _excel(token: str) -> Client:
    """What Excel's From Web sends: no cookie, the token in the Authorization header."""
    return Client(headers={"Authorization": f"Bearer {token}"})


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff"))))


def test_excel_refreshes_a_list_with_a_feed_token(lead, portfolio):
    token = _token(lead)
    assert token.startswith("kpf_")
    rows = _csv(_excel(token).get(reverse("reports:feed_csv", args=["accounts"]), {"industry": "chemicals"}))
    assert rows[0][:3] == ["Name", "External id", "Key status"]
    assert sorted(row[1] for row in rows[1:]) == ["F-A", "F-B"]
    assert "'" + EVIL in {row[0] for row in rows}  # neutralised


def test_the_json_feed_has_stable_keys_and_numbers(lead, portfolio):
    response = _excel(_token(lead)).get(reverse("reports:feed_json", args=["pareto"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = json.loads(b"".join(response.streaming_content))
    assert body["feed"] == "pareto" and body["count"] == 3
    assert body["columns"] == ["rank", "account", "external_id", "revenue", "share", "cumulative_share", "vital_few"]
    first = body["items"][0]
    assert first["external_id"] == "F-A" and first["revenue"] == 300 and first["vital_few"] is True
    assert body["items"][1]["account"] == "'" + EVIL


def test_column_names_stay_english_whatever_the_language(lead, portfolio):
    token = _token(lead)
    client = Client(headers={"Authorization": f"Bearer {token}", "Accept-Language": "de"})
    assert _csv(client.get(reverse("reports:feed_csv", args=["profitability"])))[0][:2] == ["Account", "External id"]


def test_a_team_members_feed_holds_only_their_accounts(kam, portfolio):
    token = _token(kam)
    for name in ("accounts", "pareto", "profitability", "abc"):
        rows = _csv(_excel(token).get(reverse("reports:feed_csv", args=[name])))
        ids = {cell for row in rows[1:] for cell in row if cell.startswith("F-")}
        assert ids == {"F-B"}, (name, rows)


def test_a_revoked_or_unknown_token_reads_nothing(lead, kam, portfolio):
    token = _token(lead)
    url = reverse("reports:feed_csv", args=["accounts"])
    client = client_for(lead)
    page = client.get(reverse("reports:feeds")).content.decode()
    pk = page.split('name="revoke" value="')[1].split('"')[0]
    client.post(reverse("reports:feeds"), {"revoke": pk})
    response = _excel(token).get(url)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert _excel("kpf_nonsense").get(url).status_code == 401
    assert Client().get(url).status_code == 401
    # Another user cannot revoke it (it is not theirs to see): 404, and it stays active.
    other = _token(lead, "second")
    page = client.get(reverse("reports:feeds")).content.decode()
    pk = page.split('name="revoke" value="')[1].split('"')[0]
    assert client_for(kam).post(reverse("reports:feeds"), {"revoke": pk}).status_code == 404
    assert _excel(other).get(url).status_code == 200


def test_a_feed_token_opens_no_page_and_no_api(lead, portfolio, api_client):
    assert api_client(lead).get(reverse("reports:feed_csv", args=["accounts"])).status_code == 401  # an API token neither
    token = _token(lead)
    assert _excel(token).get("/api/v1/accounts/").status_code == 401
    assert _excel(token).get(reverse("accounts:list")).status_code == 302  # to the login page


def test_bad_parameters_answer_422_naming_them(lead, portfolio):
    client = _excel(_token(lead))
    response = client.get(reverse("reports:feed_json", args=["pareto"]), {"from": "yesterday"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "from"]
    response = client.get(reverse("reports:feed_csv", args=["accounts"]), {"tier": "gold"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "tier"]
    assert client.get("/reports/feeds/nothing.csv").status_code == 404


def test_the_feeds_page_lists_every_feed_and_signed_in_browsers_read_them(lead, portfolio):
    client = client_for(lead)
    page = client.get(reverse("reports:feeds")).content.decode()
    for name in ("accounts", "account-plans", "risk-queue", "account-reviews", "stale-relationships", "pareto", "abc",
                 "profitability"):
        assert f"http://testserver/reports/feeds/{name}.csv" in page and f"/reports/feeds/{name}.json" in page
    assert _csv(client.get(reverse("reports:feed_csv", args=["risk-queue"])))[0][0] == "Account"
