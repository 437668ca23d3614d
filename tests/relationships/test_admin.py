from tests.conftest import client_for


def test_admin_lists_relationships(admin, cfo_case, kam_account, log):
    log(kam_account, cfo_case["cfo"])
    client = client_for(admin)
    for path in ("stakeholder", "influenceline", "interaction"):
        assert client.get(f"/admin/relationships/{path}/").status_code == 200
    assert client.get(f"/admin/relationships/stakeholder/{cfo_case['cfo'].pk}/history/").status_code == 200
