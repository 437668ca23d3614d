"""/api/v1/exports/…: files built from live data: the portfolio workbook (.xlsx), an account's review deck (.pptx)."""

import datetime
from typing import Literal

from django.shortcuts import get_object_or_404
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.errors import ValidationError as SchemaValidationError

from keyplan.core.schemas import MAX_YEAR, MIN_YEAR
from keyplan.accounts.models import Account
from keyplan.reports import deck, deck_data, workbook
from keyplan.reports.deck_template import TemplateError
from keyplan.revenue import portfolio

router = Router(tags=["exports"])


class WorkbookQuery(Schema):
    from_: datetime.date | None = Field(None, alias="from", description="First day of the period (default: the last 12 months that have data)")
    to: datetime.date | None = Field(None, description="Last day of the period (default: the ledger's last day)")
    industry: str = Field("", max_length=64)
    country: str = Field("", max_length=2, description="ISO country code, e.g. NL")
    tier: Literal["", "key", "candidate", "standard"] = ""
    kam: int | None = Field(None, ge=1, le=2**63 - 1, description="User id of a key account manager")


def _refuse(field: str, message: str):
    return SchemaValidationError([{"loc": ["query", field], "msg": message, "type": "value_error"}])


@router.get("/workbook", url_name="export_workbook", response={200: None},
            summary="The portfolio workbook (.xlsx) of what the caller may see",
            description="Summary, Pareto (with a native chart), ABC by year with the movements, Profitability (with the "
                        "profit matrix as a native chart), Scoring, Criteria, At-risk queue and Plan quality sheets; the same figures as "
                        "/api/v1/analysis/NAME. Answers with the file (Content-Disposition: attachment).",
            openapi_extra={"responses": {200: {"description": "The workbook file", "content": {
                workbook.CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}})
def export_workbook(request, query: Query[WorkbookQuery]):
    for field, day in (("from", query.from_), ("to", query.to)):
        if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
            raise _refuse(field, f"The year must be between {MIN_YEAR} and {MAX_YEAR}.")
    if query.from_ and query.to and query.to < query.from_:
        raise _refuse("to", f"The period ends ({query.to}) before it starts ({query.from_}).")
    scope = portfolio.Scope(request.user, industry=query.industry, country=query.country.upper(), tier=query.tier,
                            kam=query.kam)
    options = portfolio.Options(start=query.from_, end=query.to)
    try:
        period = options.period()
        content = workbook.build_bytes(scope, options)
    except ValueError as error:
        raise SchemaValidationError([{"loc": ["query"], "msg": str(error), "type": "value_error"}]) from error
    return workbook.download(content, period)


@router.get("/deck/{account_id}", url_name="export_deck", response={200: None, 503: dict},
            summary="The review deck (.pptx) of one account",
            description="Title, account snapshot, revenue and margin trend (native chart), ABC history and selection scores "
                        "(native chart), stakeholder map, who to win, plan goals and timeline, opportunities, whitespace, "
                        "risks and next steps, on the KEYPLAN_DECK_TEMPLATE template, in the language of Accept-Language. "
                        "404 for an account outside the caller's reach; 503 when the server's deck template cannot be used.",
            openapi_extra={"responses": {200: {"description": "The deck file", "content": {
                deck.CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}})
def export_deck(request, account_id: int = Path(..., ge=1, le=2**63 - 1)):
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=account_id)
    data = deck_data.gather(account, user=request.user)
    try:
        content = deck.build_bytes(data)
    except TemplateError as error:
        return Status(503, {"detail": str(error)})
    return deck.download(content, data)
