"""/api/v1/exports/…: files built from live data: the portfolio workbook (.xlsx), an account's review deck (.pptx)."""

import datetime

from django.shortcuts import get_object_or_404
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.errors import ValidationError as SchemaValidationError

from keyplan.accounts.models import Account, Tier
from keyplan.api.gates import anyone, gate
from keyplan.core.schemas import MAX_YEAR, MIN_YEAR, InputSchema, choice
from keyplan.reports import deck, deck_data, workbook
from keyplan.reports.deck_template import TemplateError
from keyplan.reports.models import JobStatus
from keyplan.revenue import portfolio

router = Router(tags=["exports"])
TierOrAll = choice(Tier, blank=True)


class WorkbookQuery(Schema):
    from_: datetime.date | None = Field(None, alias="from", description="First day of the period (default: the last 12 months that have data)")
    to: datetime.date | None = Field(None, description="Last day of the period (default: the ledger's last day)")
    industry: str = Field("", max_length=64)
    country: str = Field("", max_length=2, description="ISO country code, e.g. NL")
    tier: TierOrAll = Field("", description="key, candidate or standard; empty: every tier")
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


# ---------------------------------------------------------------- the workbook as a background job


class WorkbookJobIn(InputSchema):
    from_: datetime.date | None = Field(None, alias="from", description="First day of the period (default: the last 12 months that have data)")
    to: datetime.date | None = Field(None, description="Last day of the period (default: the ledger's last day)")
    industry: str = Field("", max_length=64)
    country: str = Field("", max_length=2, description="ISO country code, e.g. NL")
    tier: TierOrAll = Field("", description="key, candidate or standard; empty: every tier")
    kam: int | None = Field(None, ge=1, le=2**63 - 1, description="User id of a key account manager")


class WorkbookJobOut(Schema):
    id: int
    status: choice(JobStatus)
    progress: int = Field(description="0-100")
    stage: str = Field(description="The step being written: analyses, summary, pareto, abc, profitability, scoring, "
                                   "risk_queue, plan_quality, saving, done")
    message: str = Field(description="Why it failed (or was interrupted)")
    options: dict
    summary: dict = Field(description="Once done: sheets, accounts, from, to, currency")
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    download: str | None = Field(description="The file's URL once done")


def _job_out(request, job) -> dict:
    from django.urls import reverse

    out = {name: getattr(job, name) for name in ("id", "status", "progress", "stage", "message", "options", "summary",
                                                 "created_at", "started_at", "finished_at")}
    out["download"] = reverse("api:export_workbook_job_file", args=[job.pk]) if job.status == "done" else None
    return out


def _own_job(request, job_id: int):
    from django.http import Http404

    from keyplan.reports import services

    job = services.workbook_job_of(request.user, job_id)
    if job is None:
        raise Http404("No workbook job of yours has this id.")
    return job


@router.post("/workbook/jobs", response={202: WorkbookJobOut},
             summary="Start the portfolio workbook as a background job (poll it, then download the file)",
             description="The same workbook as GET /exports/workbook, made by the background worker (`keyplan worker`) for "
                         "large portfolios: answers 202 with the job; GET /exports/workbook/jobs/{id} shows its progress "
                         "and, once `done`, the `download` URL. In the language of Accept-Language.")
@gate(anyone)
def start_workbook_job(request, payload: WorkbookJobIn):
    from django.core.exceptions import ValidationError
    from django.utils.translation import get_language

    from keyplan.api.errors import validation_detail
    from keyplan.reports import services

    for field, day in (("from", payload.from_), ("to", payload.to)):
        if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
            raise SchemaValidationError([{"loc": ["body", field], "msg": f"The year must be between {MIN_YEAR} and {MAX_YEAR}.",
                                          "type": "value_error"}])
    try:
        job = services.start_workbook_job(request.user, start=payload.from_, end=payload.to, industry=payload.industry,
                                          country=payload.country, tier=payload.tier, kam=payload.kam,
                                          language=get_language())
    except ValidationError as error:
        raise SchemaValidationError(validation_detail(error, "body")) from error
    return Status(202, _job_out(request, job))


@router.get("/workbook/jobs/{job_id}", response=WorkbookJobOut, summary="A workbook job of yours: status and progress")
def get_workbook_job(request, job_id: int = Path(..., ge=1, le=2**63 - 1)):
    return _job_out(request, _own_job(request, job_id))


@router.get("/workbook/jobs/{job_id}/file", url_name="export_workbook_job_file", response={200: None, 409: dict},
            summary="The workbook file of a finished job (409 while it is not done)",
            openapi_extra={"responses": {200: {"description": "The workbook file", "content": {
                workbook.CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}})
def get_workbook_job_file(request, job_id: int = Path(..., ge=1, le=2**63 - 1)):
    from django.http import HttpResponse

    from keyplan.reports.models import WorkbookJob

    job = _own_job(request, job_id)
    if job.status != "done":
        return Status(409, {"detail": f"The workbook is {job.status}, not done."})
    content = WorkbookJob.objects.values_list("content", flat=True).get(pk=job.pk)
    response = HttpResponse(bytes(content), content_type=workbook.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{job.file_name}"'
    response["Cache-Control"] = "no-store"
    return response


@router.post("/workbook/jobs/{job_id}/retry", response={202: WorkbookJobOut},
             summary="Run a failed (or interrupted) workbook job again with the same choices")
@gate(anyone)
def retry_workbook_job(request, job_id: int = Path(..., ge=1, le=2**63 - 1)):
    from django.core.exceptions import ValidationError

    from keyplan.api.errors import validation_detail
    from keyplan.reports import services

    job = _own_job(request, job_id)
    try:
        job = services.retry_workbook_job(job, by=request.user)
    except ValidationError as error:
        raise SchemaValidationError(validation_detail(error, "body")) from error
    return Status(202, _job_out(request, job))
