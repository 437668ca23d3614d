"""Choice fields: the OpenAPI document lists every choice field's values; the API matches a value without
regard to case, spaces or hyphens, and refuses anything else with a 422 that lists the valid values."""

from keyplan.relationships import services as relationships
from keyplan.relationships.models import Stakeholder

JSON = "application/json"


def _properties(document: dict, name: str) -> dict:
    return document["components"]["schemas"][name]["properties"]


def _enum(prop: dict) -> list | None:
    if "enum" in prop:
        return prop["enum"]
    for option in prop.get("anyOf", []):
        if "enum" in option:
            return option["enum"]
    return None


def test_the_openapi_document_lists_the_values_of_every_choice_field(api_client, lead):
    document = api_client(lead).get("/api/v1/openapi.json").json()
    expected = {
        "StakeholderIn": {"buying_role", "decision_power", "sentiment", "contact_strength"},
        "StakeholderPatch": {"buying_role", "decision_power", "sentiment", "contact_strength"},
        "StakeholderOut": {"buying_role", "decision_power", "sentiment", "contact_strength"},
        "InfluenceLineIn": {"polarity", "strength"},
        "InteractionIn": {"kind"},
        "InteractionOut": {"kind"},
        "AccountIn": {"industry", "revenue_band", "lifecycle", "onboarding_status", "tier"},
        "AccountPatch": {"industry", "revenue_band", "lifecycle", "onboarding_status"},
        "TeamMemberIn": {"role"},
        "TierIn": {"tier"},
        "CriterionIn": {"group", "source"},
        "SurveyIn": {"kind"},
        "CloseIn": {"outcome"},
        "GoalIn": {"horizon", "metric", "status"},
        "ActionPatch": {"status"},
        "OpportunityIn": {"kind", "stage"},
        "CellIn": {"state"},
    }
    for schema, fields in expected.items():
        properties = _properties(document, schema)
        for field in fields:
            assert _enum(properties[field]), f"{schema}.{field} lists no values"
    assert _enum(_properties(document, "StakeholderIn")["sentiment"]) == ["supporter", "neutral", "critic"]
    assert "" in _enum(_properties(document, "StakeholderIn")["buying_role"])  # may be left empty


def test_choice_values_are_matched_without_regard_to_case(api_client, lead, kam_account):
    client = api_client(lead)
    url = f"/api/v1/accounts/{kam_account.pk}/stakeholders/"
    created = client.post(url, {"name": "Clara Ceo", "sentiment": "Supporter", "buying_role": "Decision Maker",
                                "decision_power": "HIGH"}, content_type=JSON)
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["sentiment"], body["buying_role"], body["decision_power"]) == ("supporter", "decision_maker", "high")
    person = Stakeholder.objects.get(pk=body["id"])
    assert person.buying_role == "decision_maker"
    patched = client.patch(f"{url}{person.pk}", {"sentiment": "CRITIC"}, content_type=JSON)
    assert patched.status_code == 200 and patched.json()["sentiment"] == "critic"


def test_an_unknown_choice_is_a_422_listing_the_valid_values(api_client, lead, kam_account):
    person = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Clara Ceo"})
    response = api_client(lead).patch(f"/api/v1/accounts/{kam_account.pk}/stakeholders/{person.pk}",
                                      {"sentiment": "hostile"}, content_type=JSON)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sentiment"]
    assert "supporter, neutral, critic" in error["msg"]
    assert Stakeholder.objects.get(pk=person.pk).sentiment == "neutral"


def test_outputs_and_query_parameters_of_selection_imports_and_exports_list_their_values(api_client, lead):
    document = api_client(lead).get("/api/v1/openapi.json").json()
    expected = {
        "ProposalOut": {"action", "from_tier", "to_tier", "status"},
        "TierChangeOut": {"from_tier", "to_tier"},
        "KeyStatusReviewOut": {"cadence"},
        "ReviewDecisionOut": {"action"},
        "ReviewDecisionIn": {"action"},
        "RoundAccountOut": {"tier"},
        "ImportOptionsIn": {"kind"},
        "ImportBatchOut": {"kind", "status"},
        "ImportMappingIn": {"kind"},
        "ImportMappingOut": {"kind"},
        "WorkbookJobIn": {"tier"},
        "WorkbookJobOut": {"status"},
        "HealthOut": {"band"},
        "SnapshotOut": {"band"},
    }
    for schema, fields in expected.items():
        properties = _properties(document, schema)
        for field in fields:
            assert _enum(properties[field]), f"{schema}.{field} lists no values"
    assert "" in _enum(_properties(document, "TierChangeOut")["from_tier"])  # an account's first key status
    parameters = {
        ("/api/v1/proposals/", "status"), ("/api/v1/criteria/", "group"), ("/api/v1/import-mappings/", "kind"),
        ("/api/v1/exports/workbook", "tier"), ("/api/v1/analysis/{name}", "name"), ("/api/v1/analysis/{name}", "tier"),
    }
    for path, name in parameters:
        [parameter] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
        assert _enum(parameter["schema"]), f"{path} {name} lists no values"


def test_choice_query_parameters_are_matched_without_regard_to_case(api_client, lead):
    client = api_client(lead)
    assert client.get("/api/v1/proposals/?status=PENDING").status_code == 200
    assert client.get("/api/v1/criteria/?group=Growth").status_code == 200
    assert client.get("/api/v1/import-mappings/?kind=Ledger").status_code == 200
    assert client.get("/api/v1/analysis/Pareto?tier=KEY").status_code == 200
    refused = client.get("/api/v1/proposals/?status=maybe")
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert error["loc"] == ["query", "status"] and "pending, accepted, rejected, superseded" in error["msg"]
    assert client.get("/api/v1/analysis/bogus").status_code == 422
