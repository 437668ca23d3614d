"""The web forms follow the API's text rules: a length limit the user can see (maxlength, and a hint on
text areas) that the server enforces too, and control characters other than tab and line breaks refused
with an error on the field; nothing is saved."""

import re

from django.urls import reverse

from keyplan.core.schemas import TEXT_LIMIT
from keyplan.relationships import services as relationships
from keyplan.relationships.forms import StakeholderForm
from keyplan.relationships.models import Stakeholder
from tests.conftest import client_for
from tests.web.test_conflicts import _posted


def test_every_text_field_shows_its_limit(lead, kam_account):
    person = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Clara Ceo"})
    page = client_for(lead).get(reverse("relationships:stakeholder", args=[kam_account.pk, person.pk])).content.decode()
    assert re.search(r'<input type="text" name="name"[^>]*maxlength="200"', page)
    assert re.search(rf'<textarea name="notes"[^>]*maxlength="{TEXT_LIMIT}"', page)
    assert f"At most {TEXT_LIMIT:,} characters." in page
    persian = client_for(lead)
    persian.cookies["django_language"] = "fa"
    assert "۵٬۰۰۰" in persian.get(reverse("relationships:stakeholder", args=[kam_account.pk, person.pk])).content.decode()
    # Every visible text input and text area of the page has a limit.
    fields = re.findall(r'<(?:input type="(?:text|email|url|search)"|textarea)[^>]*>', page)
    assert fields and all("maxlength=" in field for field in fields), [f for f in fields if "maxlength=" not in f]


def test_control_characters_and_overlong_text_are_refused_on_the_field(lead, kam_account):
    person = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Clara Ceo"})
    url = reverse("relationships:stakeholder", args=[kam_account.pk, person.pk])
    read = StakeholderForm(instance=person, account=kam_account)
    response = client_for(lead).post(url, _posted(read, title="CEO\x00", notes="Tab\tand\nline are fine \x07 bell is not"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Control character U+0007 at position" in page
    assert Stakeholder.objects.get(pk=person.pk).notes == ""
    too_long = client_for(lead).post(url, _posted(read, notes="x" * (TEXT_LIMIT + 1)))
    assert too_long.status_code == 400 and Stakeholder.objects.get(pk=person.pk).notes == ""
    fine = client_for(lead).post(url, _posted(read, notes="Tab\tand\r\nline breaks"))
    assert fine.status_code == 302


def test_the_api_has_the_same_limit(api_client, lead, kam_account):
    person = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Clara Ceo"})
    url = f"/api/v1/accounts/{kam_account.pk}/stakeholders/{person.pk}"
    response = api_client(lead).patch(url, {"notes": "x" * (TEXT_LIMIT + 1)}, content_type="application/json")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "notes"]
    assert f"At most {TEXT_LIMIT} characters" in response.json()["detail"][0]["msg"]
    ok = api_client(lead).patch(url, {"notes": "x" * TEXT_LIMIT}, content_type="application/json")
    assert ok.status_code == 200
