"""keyplan import mail FILE (.eml, .mbox): e-mail threads with the customer's people logged once, no body unless asked."""

import json
from pathlib import Path

import pytest

from keyplan.cli import main
from keyplan.crm.importing import ReadError
from keyplan.crm.mail import import_mail
from keyplan.relationships import services as relationships
from keyplan.relationships.models import Interaction
from keyplan.revenue.services import rollback_batch

INBOX = Path(__file__).parent / "data" / "inbox.mbox"


@pytest.fixture
def people(kam_account, lead, kam):
    kam.email = "karl@example.com"
    kam.save()
    ada = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Ada Boss", "email": "ada@acme.example"})
    bo = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Bo Middle", "email": "bo@acme.example"})
    return ada, bo


def test_a_thread_is_logged_once_without_its_text_and_again_adds_nothing(kam_account, people, lead, kam):
    ada, bo = people
    result = import_mail(INBOX, by=lead)
    assert result.ok, result.errors
    assert (result.messages, result.threads, result.created, result.replies, result.skipped_no_customer) == (4, 2, 1, 2, 1)
    mail = Interaction.objects.get()
    assert (mail.kind, mail.summary, str(mail.date)) == ("email", "Proposal for 2027", "2026-12-01")
    assert "Confidential" not in mail.summary  # no body stored unless asked for
    assert set(mail.stakeholders.all()) == {ada, bo} and list(mail.users.all()) == [kam]
    again = import_mail(INBOX, by=lead)
    assert (again.created, again.unchanged) == (0, 1) and Interaction.objects.count() == 1
    rollback_batch(result.batch, by=lead)
    assert not Interaction.objects.exists()
    with_body = import_mail(INBOX, by=lead, with_body=True)
    assert with_body.created == 1 and "please find the proposal" in Interaction.objects.get().summary


def test_an_eml_file_and_a_file_that_is_no_mailbox(people, lead, tmp_path):
    eml = tmp_path / "one.eml"
    eml.write_text("From: Ada Boss <ada@acme.example>\nTo: karl@example.com\nSubject: Site visit\n"
                   "Date: Fri, 04 Dec 2026 10:00:00 +0100\nMessage-ID: <v1@acme.example>\n\nSee you there.\n")
    assert import_mail(eml, by=lead).created == 1
    bad = tmp_path / "bad.mbox"
    bad.write_text("just some text\n")
    with pytest.raises(ReadError, match="neither an e-mail"):
        import_mail(bad, by=lead)
    undated = tmp_path / "undated.eml"
    undated.write_text("From: ada@acme.example\nSubject: Hi\n\nNo date.\n")
    assert [e.reason for e in import_mail(undated, by=lead).errors] == ["the message has no readable Date header"]


def test_the_command_line_imports_mail(people, lead, capsys):
    assert main(["import", "mail", str(INBOX), "--as", "lead", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["created"], out["replies"]) == (1, 2)


def test_a_header_of_hundreds_of_thousands_of_characters_is_refused_at_once(people, lead, tmp_path):
    """Found by the importer fuzzing: the e-mail package spent minutes parsing such a header."""
    huge = ", ".join(f"c{i}" for i in range(100_000))
    path = tmp_path / "wide.mbox"
    path.write_text(f"From x@acme.example Tue Dec  1 09:00:00 2026\nFrom: Ada <ada@acme.example>\nTo: {huge}\n"
                    "Subject: Hi\nDate: Tue, 01 Dec 2026 09:00:00 +0000\n\nHello\n")
    with pytest.raises(ReadError, match=r"Message 1 of wide.mbox has a To header of 788,888 characters"):
        import_mail(path, by=lead)
    assert not Interaction.objects.exists()
