"""A person's own column mappings: saved by name on the preview, chosen again like a preset, and used through
the API (mapping_name, /import-mappings/) and the command line (--mapping, --save-mapping)."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from keyplan.accounts.models import Account
from keyplan.cli import main
from keyplan.revenue import mappings
from keyplan.revenue.models import ImportMapping
from tests.conftest import client_for
from tests.revenue.test_import_pages import preview_url, selected, start, upload

ERP = "Kennung;Firma;Land;Notiz\nE-1;Erste GmbH;DE;x\nE-2;Zweite AG;AT;y\n"


def test_a_mapping_saved_on_the_preview_is_chosen_again_for_the_next_file(lead, admin, run_worker):
    client = client_for(lead)
    url = preview_url(upload(client, ERP, kind="accounts", name="erp.csv"))
    assert 'id="save-mapping"' in client.get(url).content.decode()
    saved = start(client, url, column_0="external_id", column_1="name", column_2="country", column_3="",
                  save_mapping="1", save_as="Our ERP")
    assert saved.status_code == 302 and "mapping_name=Our+ERP" in saved["Location"]
    assert ImportMapping.objects.get(user=lead).mapping == {"Kennung": "external_id", "Firma": "name", "Land": "country",
                                                            "Notiz": ""}
    # Next month's export, its columns in another order and one more: read with the saved mapping.
    url = preview_url(upload(client, "Land;Kennung;Firma;Extra\nNL;E-3;Dritte BV;z\n", kind="accounts", name="erp2.csv"))
    plain = client.get(url).content.decode()
    assert '<select name="mapping_name"' in plain and "Our ERP" in plain and selected(plain, 1) != "external_id"
    html = client.get(url, {"mapping_name": "Our ERP"}).content.decode()
    assert 'id="mapping-used"' in html and [selected(html, i) for i in range(3)] == ["country", "external_id", "name"]
    response = start(client, f"{url}?mapping_name=Our+ERP")
    assert response.status_code == 302, response.content.decode()[:2000]
    run_worker()
    assert Account.objects.get(external_id="E-3").country == "NL"
    # Each person has their own: the admin sees none, and a name that is not theirs is said so.
    other = client_for(admin)
    url = preview_url(upload(other, ERP, kind="accounts", name="erp.csv"))
    assert '<select name="mapping_name"' not in other.get(url).content.decode()
    assert "no saved mapping named" in other.get(url, {"mapping_name": "Our ERP"}, follow=True).content.decode()


def test_saving_without_a_name_says_so(lead):
    client = client_for(lead)
    url = preview_url(upload(client, ERP, kind="accounts", name="erp.csv"))
    response = start(client, url, column_0="external_id", column_1="name", save_mapping="1", save_as="")
    assert response.status_code == 400 and "Give the mapping a name." in response.content.decode()
    assert not ImportMapping.objects.exists()


def test_the_api_saves_lists_uses_and_removes_mappings(lead, kam, api_client, run_worker):
    client = api_client(lead)
    bad = client.post("/api/v1/import-mappings/", {"kind": "accounts", "name": "ERP", "mapping": {"Kennung": "colour"}},
                      content_type="application/json")
    assert bad.status_code == 422 and "not a field" in bad.content.decode()
    made = client.post("/api/v1/import-mappings/", {"kind": "accounts", "name": "ERP",
                                                    "mapping": {"Kennung": "external_id", "Firma": "name", "Notiz": ""}},
                       content_type="application/json")
    assert made.status_code == 201, made.content
    assert json.loads(client.get("/api/v1/import-mappings/?kind=accounts").content)["count"] == 1
    upload_file = SimpleUploadedFile("erp.csv", ERP.encode(), content_type="text/csv")
    unknown = client.post("/api/v1/imports/", {"kind": "accounts", "mapping_name": "Nope", "file": upload_file})
    assert unknown.status_code == 422 and "mapping_name" in unknown.content.decode()
    upload_file = SimpleUploadedFile("erp.csv", ERP.encode(), content_type="text/csv")
    response = client.post("/api/v1/imports/", {"kind": "accounts", "mapping_name": "ERP", "file": upload_file})
    assert response.status_code == 202, response.content
    run_worker()
    assert Account.objects.get(external_id="E-1").name == "Erste GmbH"
    assert api_client(kam).get("/api/v1/import-mappings/").status_code == 403
    pk = made.json()["id"]
    assert client.delete(f"/api/v1/import-mappings/{pk}").status_code == 204
    assert client.delete(f"/api/v1/import-mappings/{pk}").status_code == 404


def test_the_command_line_saves_and_uses_a_mapping(lead, tmp_path, capsys):
    path = tmp_path / "erp.csv"
    path.write_text(ERP)
    assert main(["import", "accounts", str(path), "--as", "lead", "--dry-run", "--map", "Kennung=external_id",
                 "--map", "Firma=name", "--save-mapping", "ERP"]) == 0
    assert mappings.saved_mapping(lead, "accounts", "ERP") == {"Kennung": "external_id", "Firma": "name"}
    capsys.readouterr()
    other = tmp_path / "erp2.csv"
    other.write_text("Firma,Kennung,Bemerkung\nDritte BV,E-3,\n")  # no Land: the saved mapping maps the columns it has
    assert main(["import", "accounts", str(other), "--as", "lead", "--mapping", "ERP", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 1 and Account.objects.filter(external_id="E-3").exists()
    assert main(["import", "accounts", str(other), "--as", "lead", "--mapping", "Nope"]) == 2
    assert "You have no accounts mapping named 'Nope'; yours are ERP." in capsys.readouterr().err


TWO_COLUMNS = "Nummer;Bezeichnung\nZ-1;Zwei Spalten GmbH\nZ-2;Noch eine AG\n"


def test_a_two_column_file_known_only_through_a_saved_mapping_is_read(lead, tmp_path, capsys):
    mappings.save_mapping(by=lead, kind="accounts", name="Zwei", mapping={"Nummer": "external_id", "Bezeichnung": "name"})
    path = tmp_path / "zwei.csv"
    path.write_text(TWO_COLUMNS)
    assert main(["import", "accounts", str(path), "--as", "lead"]) == 2  # nobody's names: no header row
    assert "No header row found" in capsys.readouterr().err
    assert main(["import", "accounts", str(path), "--as", "lead", "--mapping", "Zwei", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 2
    assert Account.objects.get(external_id="Z-1").name == "Zwei Spalten GmbH"


def test_the_preview_reads_a_two_column_file_with_the_chosen_saved_mapping(lead, run_worker):
    mappings.save_mapping(by=lead, kind="accounts", name="Zwei", mapping={"Nummer": "external_id", "Bezeichnung": "name"})
    client = client_for(lead)
    url = preview_url(upload(client, TWO_COLUMNS, kind="accounts", name="zwei.csv"))
    html = client.get(url, {"mapping_name": "Zwei"}).content.decode()
    assert 'id="mapping-used"' in html and [selected(html, i) for i in range(2)] == ["external_id", "name"]
    response = start(client, f"{url}?mapping_name=Zwei")
    assert response.status_code == 302, response.content.decode()[:2000]
    run_worker()
    assert Account.objects.filter(external_id__in=["Z-1", "Z-2"]).count() == 2
