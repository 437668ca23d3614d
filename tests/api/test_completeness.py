"""API completeness: every web page that changes data has its counterpart in /api/v1/ (issue 16).

The test walks the URL configuration, finds each page that accepts POST (from the view's
``require_http_methods`` / ``require_POST`` or a class view's handlers) and fails when the page is neither
in COUNTERPARTS (its API operations, which must exist in the OpenAPI document) nor in EXEMPT (with the
reason). A page whose methods cannot be read from its view fails too: say what it accepts by listing it.
"""

import inspect


from keyplan.api.api import api

from tests.routes import routes

SKIPPED_PREFIXES = ("admin/", "api/", "static/")

# Page (URL name) → the API operations that do what its POST does ("METHOD /api/v1/path" as in the OpenAPI document).
COUNTERPARTS = {
    # accounts
    "accounts:create": ["POST /api/v1/accounts/"],
    "accounts:edit": ["PATCH /api/v1/accounts/{account_id}"],
    "accounts:field": ["PATCH /api/v1/accounts/{account_id}"],
    "accounts:archive": ["DELETE /api/v1/accounts/{account_id}"],
    "accounts:tier": ["POST /api/v1/accounts/{account_id}/tier"],
    "accounts:team_add": ["POST /api/v1/accounts/{account_id}/team/"],
    "accounts:team_member": ["PATCH /api/v1/accounts/{account_id}/team/{member_id}",
                             "DELETE /api/v1/accounts/{account_id}/team/{member_id}"],
    "accounts:competitor_add": ["POST /api/v1/accounts/{account_id}/competitors/"],
    "accounts:competitor_remove": ["DELETE /api/v1/accounts/{account_id}/competitors/{competitor_id}"],
    "accounts:workload": ["PUT /api/v1/kams/{user_id}/capacity"],
    # relationships
    "relationships:stakeholder_create": ["POST /api/v1/accounts/{account_id}/stakeholders/"],
    "relationships:stakeholder": ["PATCH /api/v1/accounts/{account_id}/stakeholders/{stakeholder_id}"],
    "relationships:stakeholder_remove": ["DELETE /api/v1/accounts/{account_id}/stakeholders/{stakeholder_id}"],
    "relationships:stakeholder_restore": ["POST /api/v1/accounts/{account_id}/stakeholders/{stakeholder_id}/restore"],
    "relationships:line_create": ["POST /api/v1/accounts/{account_id}/influence-lines/"],
    "relationships:line": ["PATCH /api/v1/accounts/{account_id}/influence-lines/{line_id}"],
    "relationships:line_remove": ["DELETE /api/v1/accounts/{account_id}/influence-lines/{line_id}"],
    "relationships:interaction_create": ["POST /api/v1/accounts/{account_id}/interactions/"],
    "relationships:interaction": ["PATCH /api/v1/accounts/{account_id}/interactions/{interaction_id}"],
    "relationships:interaction_remove": ["DELETE /api/v1/accounts/{account_id}/interactions/{interaction_id}"],
    "relationships:settings": ["PATCH /api/v1/relationships/settings"],
    # health
    "health:survey_add": ["POST /api/v1/accounts/{account_id}/surveys/"],
    "health:settings": ["PATCH /api/v1/health/settings"],
    "health:snapshot": ["POST /api/v1/health/snapshots"],
    "health:case_open": ["POST /api/v1/accounts/{account_id}/risk-cases/"],
    "health:case": ["PATCH /api/v1/risk-cases/{case_id}", "POST /api/v1/risk-cases/{case_id}/close",
                    "POST /api/v1/risk-cases/{case_id}/actions/", "POST /api/v1/risk-cases/{case_id}/link-plan"],
    "health:review_add": ["POST /api/v1/accounts/{account_id}/reviews/"],
    "health:checkin_add": ["POST /api/v1/accounts/{account_id}/check-ins/"],
    "health:notifications": ["POST /api/v1/notifications/read"],
    "health:onboarding": ["POST /api/v1/accounts/{account_id}/onboarding/start",
                          "POST /api/v1/accounts/{account_id}/onboarding/stages/",
                          "PATCH /api/v1/onboarding-stages/{stage_id}", "DELETE /api/v1/onboarding-stages/{stage_id}"],
    # selection
    "scoring:criteria": ["POST /api/v1/criteria/"],
    "scoring:criterion": ["PATCH /api/v1/criteria/{criterion_id}"],
    "scoring:criterion_remove": ["DELETE /api/v1/criteria/{criterion_id}"],
    "scoring:criterion_restore": ["POST /api/v1/criteria/{criterion_id}/restore"],
    "scoring:criterion_suggested": ["POST /api/v1/criteria/suggested"],
    "scoring:criteria_refresh": ["POST /api/v1/criteria/refresh"],
    "scoring:score": ["POST /api/v1/scores/"],
    "scoring:rounds": ["POST /api/v1/rounds/"],
    "scoring:proposal": ["POST /api/v1/proposals/{proposal_id}/accept", "POST /api/v1/proposals/{proposal_id}/reject"],
    "scoring:reviews": ["POST /api/v1/reviews/", "PATCH /api/v1/selection-settings"],
    "scoring:review": ["POST /api/v1/reviews/{review_id}/decisions"],
    # revenue: imports and subscriptions (the API uploads and starts an import in one request)
    "revenue:imports": ["POST /api/v1/imports/"],
    "revenue:import_preview": ["POST /api/v1/imports/"],
    "revenue:import_rollback": ["POST /api/v1/imports/{batch_id}/rollback"],
    "revenue:account_subscriptions": ["POST /api/v1/accounts/{account_id}/subscriptions/"],
    "revenue:subscription_end": ["POST /api/v1/accounts/{account_id}/subscriptions/{subscription_id}/end"],
    # reports: the workbook as a background job (the feeds page's tokens are exempt, below)
    "reports:workbook_start": ["POST /api/v1/exports/workbook/jobs"],
    "reports:workbook_job_retry": ["POST /api/v1/exports/workbook/jobs/{job_id}/retry"],
    # planning
    "planning:account": ["POST /api/v1/accounts/{account_id}/plans/"],
    "planning:edit": ["PATCH /api/v1/accounts/{account_id}/plans/{plan_id}",
                      "POST /api/v1/accounts/{account_id}/plans/{plan_id}/review"],
    "planning:state": ["POST /api/v1/accounts/{account_id}/plans/{plan_id}/state"],
    "planning:section": ["PATCH /api/v1/accounts/{account_id}/plans/{plan_id}/sections/{key}"],
    "planning:section_restore": ["POST /api/v1/accounts/{account_id}/plans/{plan_id}/sections/{key}/restore"],
    "planning:goal_create": ["POST /api/v1/accounts/{account_id}/plans/{plan_id}/goals/"],
    "planning:goal": ["PATCH /api/v1/accounts/{account_id}/plans/{plan_id}/goals/{goal_id}",
                      "DELETE /api/v1/accounts/{account_id}/plans/{plan_id}/goals/{goal_id}"],
    "planning:action_create": ["POST /api/v1/accounts/{account_id}/plans/{plan_id}/actions/"],
    "planning:action": ["PATCH /api/v1/accounts/{account_id}/plans/{plan_id}/actions/{action_id}",
                        "DELETE /api/v1/accounts/{account_id}/plans/{plan_id}/actions/{action_id}"],
    "planning:opportunity_create": ["POST /api/v1/accounts/{account_id}/opportunities/"],
    "planning:opportunity": ["PATCH /api/v1/accounts/{account_id}/opportunities/{opportunity_id}",
                             "DELETE /api/v1/accounts/{account_id}/opportunities/{opportunity_id}"],
    "planning:opportunities_import": ["POST /api/v1/opportunities/import"],
    "planning:whitespace_cell": ["PUT /api/v1/accounts/{account_id}/whitespace/cell"],
    "planning:raci": ["PUT /api/v1/accounts/{account_id}/raci"],
    "planning:charter_edit": ["PATCH /api/v1/charter"],
    "planning:charter_restore": ["POST /api/v1/charter/restore"],
    "planning:rollout_create": ["POST /api/v1/charter/rollout/"],
    "planning:rollout_step": ["PATCH /api/v1/charter/rollout/{step_id}", "DELETE /api/v1/charter/rollout/{step_id}"],
}

# Pages that change something with no API counterpart, and why that is right.
EXEMPT = {
    "login": "signing in makes a browser session; the API authenticates each request with a token",
    "logout": "ends the browser session; an API token is revoked instead (keyplan token revoke)",
    "password_change": "a password is the browser's credential; the API never sees or changes passwords",
    "set_language": "stores the reader's language in the browser session; the API follows Accept-Language",
    "tokens": "credentials are made only in a signed-in session (or `keyplan token create`), so a leaked API token "
              "cannot mint more",
    "revoke_token": "as tokens: credentials are managed in the browser session and by `keyplan token revoke`",
    "reports:feeds": "feed tokens are credentials too: made and revoked in the signed-in session only",
    "unlock_sign_in": "sign-in locks guard the browser's sign-in; `keyplan unlock` does it from the shell",
}


def allowed_methods(view) -> set[str] | None:
    """The HTTP methods a view accepts, read from its decorators or its class; None when they cannot be told."""
    if hasattr(view, "view_class"):
        return {m.upper() for m in view.view_class.http_method_names if hasattr(view.view_class, m)}
    function, depth = view, 0
    while function is not None and depth < 10:
        if hasattr(function, "__code__"):
            methods = inspect.getclosurevars(function).nonlocals.get("request_method_list")
            if methods is not None:
                return {m.upper() for m in methods}
        function, depth = getattr(function, "__wrapped__", None), depth + 1
    return None


def pages() -> list[tuple[str, str, set[str] | None]]:
    return [(route, name, allowed_methods(pattern.callback))
            for route, name, pattern in routes()
            if not route.startswith(SKIPPED_PREFIXES)]


def operations() -> set[str]:
    return {f"{method.upper()} {path}" for path, ops in api.get_openapi_schema()["paths"].items() for method in ops}


def uncovered(counterparts: dict, exempt: dict) -> tuple[list[str], list[str]]:
    """(pages whose methods cannot be told, pages that change data) that neither table lists."""
    found = pages()
    unknown = sorted(f"{name or '(no name)'} ({route})" for route, name, methods in found
                     if methods is None and name not in counterparts and name not in exempt)
    writing = {name for _route, name, methods in found if methods and {"POST", "PUT", "PATCH", "DELETE"} & methods}
    return unknown, sorted(writing - set(counterparts) - set(exempt))


def test_every_page_that_changes_data_has_an_api_counterpart():
    unknown, missing = uncovered(COUNTERPARTS, EXEMPT)
    assert not unknown, ("These pages' views do not say which methods they accept (use require_GET / require_POST / "
                         f"require_http_methods): {unknown}")
    assert not missing, ("Pages that change data without an API counterpart: add the endpoint and list it in "
                         f"COUNTERPARTS (or, with a reason, in EXEMPT): {missing}")


def test_the_table_names_real_pages_and_operations():
    names = {name for _route, name, _methods in pages()}
    assert not sorted(set(COUNTERPARTS) - names), "COUNTERPARTS lists pages that no longer exist"
    assert not sorted(set(EXEMPT) - names), "EXEMPT lists pages that no longer exist"
    assert not set(COUNTERPARTS) & set(EXEMPT)
    known = operations()
    gone = sorted({operation for listed in COUNTERPARTS.values() for operation in listed} - known)
    assert not gone, f"COUNTERPARTS names API operations that the OpenAPI document does not have: {gone}"
    for name, reason in EXEMPT.items():
        assert len(reason) > 20, f"say why {name} has no API counterpart"


def test_a_page_without_counterpart_is_caught():
    """The walk can fail: a writing page, a class view and a view that hides its methods are all found."""
    without = {name: ops for name, ops in COUNTERPARTS.items() if name not in ("accounts:workload", "health:snapshot")}
    assert uncovered(without, EXEMPT)[1] == ["accounts:workload", "health:snapshot"]
    assert "login" in uncovered(COUNTERPARTS, {})[1]  # a class view (LoginView): its post() is seen
    assert uncovered(COUNTERPARTS, {k: v for k, v in EXEMPT.items() if k != "set_language"})[0] == [
        "set_language (i18n/setlang/)"]
