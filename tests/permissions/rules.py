"""Who may do what, page by page and endpoint by endpoint: the table tests/permissions/test_matrix.py checks.

Every page (by URL name) and every API operation (``METHOD /path`` as in the OpenAPI document) has a rule.
A rule is the answer each role gets, in the order of ``ROLES``:

    anonymous  viewer  other  member  kam  lead  admin

``other`` is a team member of another account, ``member`` a sales member of the account's team, ``kam`` its
key account manager. ``L`` is the login redirect (pages) or 401 (API); a number is the status code; ``-``
is not checked (a role that may write: its write is tested where the feature is).

Adding a route: add a line here (the test says which are missing). Pick the shape below that fits, or spell
the seven answers out; run ``KEYPLAN_MATRIX_RECORD=/tmp/m.txt pytest tests/permissions`` to see what the
code answers today, and read it before copying: the table says what *should* happen.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    get: str | None  # answers to GET; None: not checked (e.g. a logout)
    post: str | None  # answers to an empty POST
    args: dict[str, str] = field(default_factory=dict)  # URL kwarg → key in world["ids"], beyond DEFAULT_ARGS


# URL kwargs → the world's object (tests/permissions/world.py); Page(args=...) overrides them per page.
DEFAULT_ARGS = {
    "pk": "account_id", "account_pk": "account_id", "member_pk": "member_id", "competitor_pk": "competitor_id",
    "sid": "stakeholder_id", "lid": "line_id", "iid": "interaction_id", "criterion_pk": "criterion_id",
    "plan_pk": "plan_id", "goal_pk": "goal_id", "action_pk": "action_id", "opportunity_pk": "opportunity_id",
    "key": "key", "history_id": "history_id", "token_id": "token_id", "case_pk": "case_id", "step_pk": "step_id",
}

# The usual shapes. Roles:          anonymous viewer other member kam lead admin
EVERYONE = "L 200 200 200 200 200 200"  # any signed-in user (lists show only what each may see)
ACCOUNT_READ = "L 200 404 200 200 200 200"  # an account's page: outside one's reach it does not exist
ACCOUNT_EDIT_FORM = "L 403 404 200 200 200 200"  # a form that changes an account's data: viewers may not
ACCOUNT_WRITE = "L 403 404 - - - -"  # a write on an account: its team, leads and admins
LEADS_ACCOUNT_WRITE = "L 403 404 403 - - -"  # a write on an account that only its KAM (or only leads) may do
LEADS = "L 403 403 403 403 200 200"  # KAM leads and admins only
SEES_ALL = "L 200 403 403 403 200 200"  # portfolio-wide reading: viewers, KAM leads and admins
LEADS_WRITE = "L 403 403 403 - - -"  # a write for KAM leads and admins only (kam: not checked here)
POST_ONLY = "L 405 405 405 405 405 405"  # GET on a form's target
READ_ONLY = "L 405 405 405 - - -"  # POST on a page that only reads

PAGES = {
    "home": Page(EVERYONE, READ_ONLY),
    "accounts:list": Page(EVERYONE, READ_ONLY),
    "accounts:create": Page(LEADS, LEADS_WRITE),
    "accounts:suggest_parent": Page(EVERYONE, READ_ONLY),
    "accounts:workload": Page(EVERYONE, LEADS_WRITE),
    "accounts:detail": Page(ACCOUNT_READ, READ_ONLY),
    "accounts:edit": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "accounts:history": Page(ACCOUNT_READ, READ_ONLY),
    "accounts:field": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE, {"name": "field_name"}),
    "accounts:tier": Page(POST_ONLY, LEADS_ACCOUNT_WRITE),
    "accounts:archive": Page(POST_ONLY, LEADS_ACCOUNT_WRITE),
    "accounts:team_add": Page(POST_ONLY, LEADS_ACCOUNT_WRITE),
    "accounts:team_member": Page(POST_ONLY, LEADS_ACCOUNT_WRITE),
    "accounts:competitor_add": Page(POST_ONLY, ACCOUNT_WRITE),
    "accounts:competitor_remove": Page(POST_ONLY, ACCOUNT_WRITE),
    "scoring:matrix": Page(EVERYONE, READ_ONLY),
    "scoring:score": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "scoring:chart": Page(EVERYONE, READ_ONLY),
    "scoring:criteria": Page(EVERYONE, LEADS_WRITE),
    "scoring:criterion_suggested": Page(POST_ONLY, LEADS_WRITE),
    "scoring:criteria_refresh": Page(POST_ONLY, LEADS_WRITE),
    "scoring:criterion": Page(POST_ONLY, LEADS_WRITE, {"pk": "criterion_id"}),
    "scoring:criterion_remove": Page(LEADS, LEADS_WRITE, {"pk": "criterion_id"}),
    "scoring:criterion_restore": Page(POST_ONLY, LEADS_WRITE, {"pk": "criterion_id"}),
    "scoring:rounds": Page(EVERYONE, LEADS_WRITE),
    "scoring:round": Page(EVERYONE, READ_ONLY, {"pk": "round_id"}),
    "scoring:proposal": Page(POST_ONLY, LEADS_WRITE, {"pk": "proposal_id"}),
    "scoring:reviews": Page(EVERYONE, LEADS_WRITE),
    "scoring:review": Page("L 200 404 404 404 200 200", "L 403 404 404 - - -", {"pk": "review_id"}),
    "scoring:account_card": Page(ACCOUNT_READ, READ_ONLY),
    "revenue:portfolio": Page(EVERYONE, READ_ONLY),
    "revenue:lifetime_value": Page(EVERYONE, READ_ONLY),
    "revenue:analysis": Page(EVERYONE, READ_ONLY, {"name": "name"}),
    "reports:workbook": Page(EVERYONE, READ_ONLY),  # each gets the workbook of what they may see
    # The workbook as a background job: anyone starts one; a job (its page, file, retry) is its starter's alone. The
    # world's job was started by the member and is still queued: no file yet, nothing to run again.
    "reports:workbook_start": Page(POST_ONLY, "L 302 302 302 302 302 302"),
    "reports:workbook_job": Page("L 404 404 200 404 404 404", "L 405 405 405 405 405 405", {"pk": "job_id"}),
    "reports:workbook_job_file": Page("L 404 404 404 404 404 404", "L 405 405 405 405 405 405", {"pk": "job_id"}),
    "reports:workbook_job_retry": Page(POST_ONLY, "L 404 404 302 404 404 404", {"pk": "job_id"}),
    "reports:deck": Page(ACCOUNT_READ, READ_ONLY),  # an account's review deck: whoever may see the account
    "reports:feeds": Page(EVERYONE, "L 200 200 200 200 200 200"),  # one's own feed tokens: an empty POST makes one
    # The feeds authenticate themselves (a feed token in the header, else the session): no login redirect.
    "reports:feed_csv": Page("401 200 200 200 200 200 200", "405 405 405 405 405 405 405", {"name": "name"}),
    "reports:feed_json": Page("401 200 200 200 200 200 200", "405 405 405 405 405 405 405", {"name": "name"}),
    "revenue:imports": Page(LEADS, LEADS_WRITE),
    "revenue:import_preview": Page("L 403 403 403 403 404 404", LEADS_WRITE, {"token": "upload_token"}),
    "revenue:import_batch": Page(LEADS, READ_ONLY, {"pk": "batch_id"}),
    "revenue:import_rejected_rows": Page("L 403 403 403 403 404 404", READ_ONLY, {"pk": "batch_id"}),
    "revenue:import_rollback": Page(LEADS, LEADS_WRITE, {"pk": "batch_id"}),
    "revenue:account_subscriptions": Page(ACCOUNT_READ, ACCOUNT_WRITE),
    "revenue:subscription_end": Page(POST_ONLY, ACCOUNT_WRITE, {"sid": "subscription_id"}),
    "revenue:account_revenue": Page(ACCOUNT_READ, READ_ONLY),
    "relationships:portfolio": Page(EVERYONE, READ_ONLY),
    "relationships:settings": Page(EVERYONE, LEADS_WRITE),
    "relationships:map": Page(ACCOUNT_READ, READ_ONLY),
    "relationships:table": Page(ACCOUNT_READ, READ_ONLY),
    "relationships:stakeholder_create": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "relationships:stakeholder": Page(ACCOUNT_READ, ACCOUNT_WRITE),
    "relationships:stakeholder_remove": Page(POST_ONLY, ACCOUNT_WRITE),
    "relationships:stakeholder_restore": Page(POST_ONLY, ACCOUNT_WRITE),
    "relationships:line_create": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "relationships:line": Page(ACCOUNT_READ, ACCOUNT_WRITE),
    "relationships:line_remove": Page(POST_ONLY, ACCOUNT_WRITE),
    "relationships:who_to_win": Page(ACCOUNT_READ, READ_ONLY),
    "relationships:interactions": Page(ACCOUNT_READ, READ_ONLY),
    "relationships:interaction_create": Page(POST_ONLY, ACCOUNT_WRITE),
    "relationships:interaction": Page(ACCOUNT_READ, ACCOUNT_WRITE),
    "relationships:interaction_remove": Page(POST_ONLY, ACCOUNT_WRITE),
    "relationships:ics": Page(ACCOUNT_READ, READ_ONLY),
    "planning:portfolio": Page(EVERYONE, READ_ONLY),
    "planning:portfolio_timeline": Page(EVERYONE, READ_ONLY),
    "planning:account": Page(ACCOUNT_READ, ACCOUNT_WRITE),
    "planning:plan": Page(ACCOUNT_READ, READ_ONLY),
    "planning:edit": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:state": Page(POST_ONLY, "L 403 404 404 - - -"),
    "planning:history": Page(ACCOUNT_READ, READ_ONLY),
    "planning:timeline": Page(ACCOUNT_READ, READ_ONLY),
    "planning:print": Page(ACCOUNT_READ, READ_ONLY),
    "planning:section": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:section_restore": Page(POST_ONLY, ACCOUNT_WRITE),
    "planning:goal_create": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:goal": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:action_create": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:action": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:opportunity_create": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:opportunity": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:whitespace": Page(ACCOUNT_READ, READ_ONLY),
    "planning:raci": Page(ACCOUNT_READ, ACCOUNT_WRITE),
    "planning:whitespace_cell": Page(ACCOUNT_EDIT_FORM, ACCOUNT_WRITE),
    "planning:opportunities_import": Page("L 403 200 200 200 200 200", "L 403 - - - - -"),  # rows only for one's accounts
    "planning:charter": Page(EVERYONE, READ_ONLY),
    "planning:charter_edit": Page(LEADS, LEADS_WRITE),
    "planning:charter_history": Page(EVERYONE, READ_ONLY),
    "planning:charter_restore": Page(POST_ONLY, LEADS_WRITE),
    "planning:charter_timeline": Page(EVERYONE, READ_ONLY),
    "planning:rollout_create": Page(LEADS, LEADS_WRITE),
    "planning:rollout_step": Page(LEADS, LEADS_WRITE),
    "login": Page("200 302 302 302 302 302 302", "200 302 302 - - - -"),
    "logout": Page(POST_ONLY, "L L L L - - -"),
    "password_change": Page(EVERYONE, "L 200 200 - - - -"),
    "password_change_done": Page(EVERYONE, READ_ONLY),
    "tokens": Page(EVERYONE, "L 200 200 - - - -"),
    "revoke_token": Page(POST_ONLY, "L 404 404 - - - -"),
    "sign_in_locks": Page(LEADS, READ_ONLY),
    "unlock_sign_in": Page(POST_ONLY, LEADS_WRITE),
    "healthz": Page("200 200 200 200 200 200 200", "405 405 405 405 - - -"),  # open: load balancers probe it
    "set_language": Page("302 302 302 302 302 302 302", "302 302 302 - - - -"),
    "reports": Page(EVERYONE, READ_ONLY),
    # health (issue 14)
    "health:dashboard": Page(EVERYONE, READ_ONLY),
    "health:snapshot": Page(POST_ONLY, LEADS_WRITE),
    "health:queue": Page(EVERYONE, READ_ONLY),
    "health:case": Page(ACCOUNT_READ, ACCOUNT_WRITE),
    "health:reviews": Page(EVERYONE, READ_ONLY),
    "health:settings": Page(EVERYONE, LEADS_WRITE),
    "health:account": Page(ACCOUNT_READ, READ_ONLY),
    "health:survey_add": Page(POST_ONLY, ACCOUNT_WRITE),
    "health:review_add": Page(POST_ONLY, ACCOUNT_WRITE),
    "health:case_open": Page(POST_ONLY, ACCOUNT_WRITE),
    "health:backtest": Page(SEES_ALL, READ_ONLY),
    "health:notifications": Page(EVERYONE, "L 302 302 302 - - -"),  # one's own notifications: marking them read
    "health:onboarding": Page(ACCOUNT_READ, ACCOUNT_WRITE),
    "health:checkin_add": Page(POST_ONLY, ACCOUNT_WRITE),
}

# API operations, as in the OpenAPI document. L is 401.
API = {
    "GET /api/v1/accounts/": EVERYONE,
    "POST /api/v1/accounts/": LEADS_WRITE,
    "GET /api/v1/accounts/{account_id}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}": ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}": LEADS_ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/history": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/tier": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/tier": LEADS_ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/team/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/team/": LEADS_ACCOUNT_WRITE,
    "PATCH /api/v1/accounts/{account_id}/team/{member_id}": LEADS_ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}/team/{member_id}": LEADS_ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/competitors/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/competitors/": ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}/competitors/{competitor_id}": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/stakeholders/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/stakeholders/": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/stakeholders/{stakeholder_id}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}/stakeholders/{stakeholder_id}": ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}/stakeholders/{stakeholder_id}": ACCOUNT_WRITE,
    "POST /api/v1/accounts/{account_id}/stakeholders/{stakeholder_id}/restore": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/stakeholders/{stakeholder_id}/history": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/influence-lines/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/influence-lines/": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/influence-lines/{line_id}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}/influence-lines/{line_id}": ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}/influence-lines/{line_id}": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/interactions/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/interactions/": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/interactions/{interaction_id}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}/interactions/{interaction_id}": ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}/interactions/{interaction_id}": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/meetings.ics": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/who-to-win": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/relationship-gaps": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/stale-relationships": ACCOUNT_READ,
    "GET /api/v1/relationships/stale": EVERYONE,
    "GET /api/v1/relationships/settings": EVERYONE,
    "PATCH /api/v1/relationships/settings": LEADS_WRITE,
    "GET /api/v1/accounts/{account_id}/map.svg": ACCOUNT_READ,
    "GET /api/v1/analysis/scores": EVERYONE,
    "GET /api/v1/criteria/": EVERYONE,
    "POST /api/v1/criteria/": LEADS_WRITE,
    "GET /api/v1/criteria/{criterion_id}": EVERYONE,
    "PATCH /api/v1/criteria/{criterion_id}": LEADS_WRITE,
    "DELETE /api/v1/criteria/{criterion_id}": LEADS_WRITE,
    "GET /api/v1/scores/": EVERYONE,
    "POST /api/v1/scores/": ACCOUNT_WRITE,
    "GET /api/v1/scores/history": ACCOUNT_READ,
    "GET /api/v1/rounds/": EVERYONE,
    "POST /api/v1/rounds/": LEADS_WRITE,
    "GET /api/v1/rounds/{round_id}": EVERYONE,
    "GET /api/v1/rounds/{round_id}/accounts": EVERYONE,
    "GET /api/v1/proposals/": EVERYONE,
    "POST /api/v1/proposals/{proposal_id}/accept": LEADS_ACCOUNT_WRITE,
    "POST /api/v1/proposals/{proposal_id}/reject": LEADS_ACCOUNT_WRITE,
    "GET /api/v1/reviews/": "L 200 404 404 404 200 200",
    "POST /api/v1/reviews/": LEADS_WRITE,
    "GET /api/v1/reviews/{review_id}": "L 200 404 404 404 200 200",
    "POST /api/v1/reviews/{review_id}/decisions": "L 403 404 404 - - -",
    "GET /api/v1/selection-settings": EVERYONE,
    "PATCH /api/v1/selection-settings": LEADS_WRITE,
    "GET /api/v1/analysis/{name}": EVERYONE,
    "GET /api/v1/exports/workbook": EVERYONE,
    "GET /api/v1/exports/deck/{account_id}": ACCOUNT_READ,
    "POST /api/v1/exports/workbook/jobs": "L 202 202 202 202 202 202",
    "GET /api/v1/exports/workbook/jobs/{job_id}": "L 404 404 200 404 404 404",
    "GET /api/v1/exports/workbook/jobs/{job_id}/file": "L 404 404 409 404 404 404",
    "POST /api/v1/exports/workbook/jobs/{job_id}/retry": "L 404 404 422 404 404 404",
    "GET /api/v1/imports/": LEADS,
    "POST /api/v1/imports/": LEADS_WRITE,
    "GET /api/v1/imports/{batch_id}": LEADS,
    "GET /api/v1/imports/{batch_id}/rejected-rows": "L 403 403 403 403 404 404",
    "POST /api/v1/imports/{batch_id}/rollback": LEADS_WRITE,
    "POST /api/v1/sync/accounts": LEADS_WRITE,
    "POST /api/v1/sync/stakeholders": LEADS_WRITE,
    "POST /api/v1/sync/interactions": LEADS_WRITE,
    "GET /api/v1/import-mappings/": LEADS,  # each person's own mappings
    "POST /api/v1/import-mappings/": LEADS_WRITE,
    "DELETE /api/v1/import-mappings/{mapping_id}": LEADS_WRITE,  # another person's is 404 (tests/revenue/test_import_mappings.py)
    "GET /api/v1/accounts/{account_id}/subscriptions/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/subscriptions/": ACCOUNT_WRITE,
    "POST /api/v1/accounts/{account_id}/subscriptions/{subscription_id}/end": ACCOUNT_WRITE,
    "GET /api/v1/plans/": EVERYONE,
    "GET /api/v1/accounts/{account_id}/plans/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/plans/": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/plans/{plan_id}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}/plans/{plan_id}": ACCOUNT_WRITE,
    "POST /api/v1/accounts/{account_id}/plans/{plan_id}/state": ACCOUNT_WRITE,
    "POST /api/v1/accounts/{account_id}/plans/{plan_id}/review": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/plans/{plan_id}/history": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/plans/{plan_id}/timeline.svg": ACCOUNT_READ,
    "GET /api/v1/plans/timeline.svg": EVERYONE,
    "GET /api/v1/accounts/{account_id}/plans/{plan_id}/sections/{key}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}/plans/{plan_id}/sections/{key}": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/plans/{plan_id}/sections/{key}/versions": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/plans/{plan_id}/sections/{key}/restore": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/plans/{plan_id}/goals/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/plans/{plan_id}/goals/": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/plans/{plan_id}/goals/{goal_id}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}/plans/{plan_id}/goals/{goal_id}": ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}/plans/{plan_id}/goals/{goal_id}": ACCOUNT_WRITE,
    "POST /api/v1/accounts/{account_id}/plans/{plan_id}/actions/": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/plans/{plan_id}/actions/{action_id}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}/plans/{plan_id}/actions/{action_id}": ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}/plans/{plan_id}/actions/{action_id}": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/opportunities/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/opportunities/": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/opportunities/{opportunity_id}": ACCOUNT_READ,
    "PATCH /api/v1/accounts/{account_id}/opportunities/{opportunity_id}": ACCOUNT_WRITE,
    "DELETE /api/v1/accounts/{account_id}/opportunities/{opportunity_id}": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/whitespace": ACCOUNT_READ,
    "PUT /api/v1/accounts/{account_id}/whitespace/cell": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/raci": ACCOUNT_READ,
    "PUT /api/v1/accounts/{account_id}/raci": ACCOUNT_WRITE,
    "POST /api/v1/opportunities/import": "L 403 422 - - - -",  # a viewer is refused first; then the file; rows only for one's accounts
    "GET /api/v1/charter": EVERYONE,
    "PATCH /api/v1/charter": LEADS_WRITE,
    "GET /api/v1/charter/versions": EVERYONE,
    "POST /api/v1/charter/restore": LEADS_WRITE,
    "GET /api/v1/charter/timeline.svg": EVERYONE,
    "GET /api/v1/charter/rollout/": EVERYONE,
    "POST /api/v1/charter/rollout/": LEADS_WRITE,
    "GET /api/v1/charter/rollout/{step_id}": EVERYONE,
    "PATCH /api/v1/charter/rollout/{step_id}": LEADS_WRITE,
    "DELETE /api/v1/charter/rollout/{step_id}": LEADS_WRITE,
    # health (issue 14)
    "GET /api/v1/accounts/{account_id}/surveys/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/surveys/": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/satisfaction": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/health": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/health/snapshots": ACCOUNT_READ,
    "GET /api/v1/health/settings": EVERYONE,
    "PATCH /api/v1/health/settings": LEADS_WRITE,
    "GET /api/v1/risk-queue": EVERYONE,
    "POST /api/v1/accounts/{account_id}/risk-cases/": ACCOUNT_WRITE,
    "GET /api/v1/risk-cases/{case_id}": ACCOUNT_READ,
    "PATCH /api/v1/risk-cases/{case_id}": ACCOUNT_WRITE,
    "POST /api/v1/risk-cases/{case_id}/close": ACCOUNT_WRITE,
    "POST /api/v1/risk-cases/{case_id}/actions/": ACCOUNT_WRITE,
    "POST /api/v1/risk-cases/{case_id}/link-plan": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/reviews/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/reviews/": ACCOUNT_WRITE,
    "GET /api/v1/reviews/due": EVERYONE,
    "GET /api/v1/dashboard": EVERYONE,
    "GET /api/v1/health/backtest": SEES_ALL,
    "GET /api/v1/notifications": EVERYONE,  # one's own
    "POST /api/v1/notifications/read": "L 200 200 200 - - -",  # one's own, marked read
    "GET /api/v1/accounts/{account_id}/onboarding": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/onboarding/start": ACCOUNT_WRITE,
    "POST /api/v1/accounts/{account_id}/onboarding/stages/": ACCOUNT_WRITE,
    "PATCH /api/v1/onboarding-stages/{stage_id}": ACCOUNT_WRITE,
    "DELETE /api/v1/onboarding-stages/{stage_id}": ACCOUNT_WRITE,
    "GET /api/v1/accounts/{account_id}/payments": ACCOUNT_READ,
    "GET /api/v1/accounts/{account_id}/check-ins/": ACCOUNT_READ,
    "POST /api/v1/accounts/{account_id}/check-ins/": ACCOUNT_WRITE,
    "GET /api/v1/check-ins/due": EVERYONE,
    "GET /api/v1/kams/": EVERYONE,
    "PUT /api/v1/kams/{user_id}/capacity": LEADS_WRITE,
    "POST /api/v1/health/snapshots": LEADS_WRITE,
    "POST /api/v1/criteria/suggested": LEADS_WRITE,
    "POST /api/v1/criteria/refresh": LEADS_WRITE,
    "POST /api/v1/criteria/{criterion_id}/restore": LEADS_WRITE,
}

# Bodies for writes whose required fields need a value the service accepts, so that its permission check
# (not the value) answers. Others get their required fields with any value of the declared type.
BODIES = {
    "POST /api/v1/accounts/{account_id}/plans/{plan_id}/state": {"state": "archived"},
    "PATCH /api/v1/accounts/{account_id}/plans/{plan_id}/sections/{key}": {"content": {"strengths": ["Service"]}},
}
