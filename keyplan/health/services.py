"""What may happen in health and retention, and the reads the pages, the API and the CLI share.

Every write is one function: it checks who acts, validates (naming the field), writes inside one
transaction and leaves history. Bad input raises ``ValidationError({field: message})`` and changes
nothing. The score itself is ``analysis.score()``; this module gathers its facts from the other areas
(surveys here, interactions and stakeholders from relationships, subscriptions from revenue, actions
from planning) in a few grouped queries, so that a daily snapshot of 100,000 accounts stays one pass.
"""

from __future__ import annotations

import datetime
import decimal
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from keyplan.accounts.services import can_edit
from keyplan.core.models import User
from keyplan.core.versions import bump, check_version
from keyplan.health import analysis
from keyplan.health.models import (
    COMPONENT_LABELS,
    RULE_LABELS,
    AccountReview,
    Cadence,
    HealthSettings,
    HealthSnapshot,
    Outcome,
    ProgramSnapshot,
    RiskCase,
    SaveAction,
    SurveyKind,
    SurveyResponse,
)

SCALES = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}

# The explanation of each part of a component, in words; the analysis gives the code and the numbers.
EXPLANATIONS = {
    "nps_fell": gettext_noop("NPS fell from %(before)s to %(now)s this quarter"),
    "nps_rose": gettext_noop("NPS rose from %(before)s to %(now)s this quarter"),
    "nps": gettext_noop("NPS %(now)s this quarter"),
    "csat_fell": gettext_noop("CSAT fell from %(before)s to %(now)s of 5 this quarter"),
    "csat": gettext_noop("CSAT %(now)s of 5 this quarter"),
    "no_surveys": gettext_noop("no survey answered this quarter: not counted"),
    "interactions": gettext_noop("interactions in the last 90 days: %(n)s (%(before)s in the 90 before)"),
    "no_relationships": gettext_noop("no stakeholder mapped, no interaction logged: not counted"),
    "no_mrr": gettext_noop("no recurring revenue: not counted"),
    "mrr_started": gettext_noop("MRR started in the last 90 days (%(now)s)"),
    "mrr_fell": gettext_noop("MRR fell %(percent)s %% in 90 days (%(before)s → %(now)s)"),
    "mrr_grew": gettext_noop("MRR grew %(percent)s %% in 90 days (%(before)s → %(now)s)"),
    "mrr_steady": gettext_noop("MRR steady at %(now)s"),
    "no_plan": gettext_noop("no active account plan: not counted"),
    "overdue_actions": gettext_noop("overdue plan actions: %(n)s"),
    "no_decision_makers": gettext_noop("no decision maker mapped: not counted"),
    "decision_makers": gettext_noop("%(covered)s of %(total)s decision makers owned and in contact"),
    "no_usage": gettext_noop("no product usage imported: not counted"),
    "usage_fell": gettext_noop("product usage fell %(percent)s %% against the 90 days before"),
    "usage_grew": gettext_noop("product usage grew %(percent)s %% against the 90 days before"),
    "usage_steady": gettext_noop("product usage steady against the 90 days before"),
    "no_tickets": gettext_noop("no support tickets imported: not counted"),
    "open_high_tickets": gettext_noop("open tickets of high or critical severity: %(n)s"),
    "no_onboarding": gettext_noop("no onboarding stages: not counted"),
    "onboarding_done": gettext_noop("onboarding done (%(total)s stages)"),
    "onboarding_on_track": gettext_noop("onboarding on track: %(done)s of %(total)s stages done"),
    "onboarding_overdue": gettext_noop("onboarding stages overdue: %(n)s of %(total)s"),
    "no_invoices": gettext_noop("no invoices due in the last 180 days imported: not counted"),
    "days_late": gettext_noop("invoices paid %(days)s days late on average (%(n)s invoices due in 180 days)"),
    "invoices_overdue": gettext_noop("unpaid past their due date: %(n)s"),
}


# ---------------------------------------------------------------- permissions and settings


def can_configure(user: User) -> bool:
    """Weights, thresholds, bands, rules and cadences are program decisions: KAM leads and admins."""
    return user.is_authenticated and user.edits_all_accounts


def _require_edit(user: User, account: Account) -> None:
    if not can_edit(user, account):
        raise PermissionDenied(_("You may not change this account's health records."))


def health_settings() -> HealthSettings:
    """The one settings row, created with the defaults on first use."""
    return HealthSettings.objects.get_or_create(pk=1)[0]


def config(row: HealthSettings | None = None) -> analysis.Config:
    row = row or health_settings()
    return analysis.Config(weights=dict(row.weights), green_from=row.green_from, amber_from=row.amber_from,
                           engagement_target=row.engagement_target, mrr_drop_percent=row.mrr_drop_percent,
                           overdue_actions_max=row.overdue_actions_max, low_engagement=row.low_engagement,
                           rules=tuple(row.rules))


SETTING_FIELDS = ("weights", "green_from", "amber_from", "engagement_target", "mrr_drop_percent",
                  "overdue_actions_max", "low_engagement", "rules", "upsell_plan", "upsell_from",
                  "cadence_key", "cadence_candidate", "cadence_standard", "checkin_key", "checkin_candidate",
                  "checkin_standard", "onboarding_templates")
LIMITS = {"green_from": (1, 100), "amber_from": (0, 99), "engagement_target": (0, 1000), "mrr_drop_percent": (1, 100),
          "overdue_actions_max": (1, 1000), "low_engagement": (0, 1000), "upsell_from": (0, 100)}


def _whole(value, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return _("Give a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
    return None


@transaction.atomic
def update_settings(*, by: User, changes: dict) -> HealthSettings:
    """Change the score's weights and thresholds, the bands, the rules, the upsell and the review cadences."""
    if not can_configure(by):
        raise PermissionDenied(_("Only KAM leads and admins change the health settings."))
    unknown = sorted(set(changes) - set(SETTING_FIELDS))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})
    row = HealthSettings.objects.select_for_update().get(pk=health_settings().pk)
    errors: dict[str, str] = {}
    for name, value in changes.items():
        if name in LIMITS:
            problem = _whole(value, *LIMITS[name])
            if problem:
                errors[name] = problem
                continue
        elif name == "weights":
            if not isinstance(value, dict) or set(value) - set(analysis.DEFAULT_WEIGHTS):
                errors[name] = _("Give a weight for each of: %(names)s.") % {"names": ", ".join(analysis.DEFAULT_WEIGHTS)}
                continue
            bad = next((k for k, v in value.items() if _whole(v, 0, 100)), None)
            if bad:
                errors[name] = _("The weight of %(name)s: give a whole number from 0 to 100.") % {"name": bad}
                continue
            value = {k: value.get(k, row.weights.get(k, 0)) for k in analysis.DEFAULT_WEIGHTS}
            if not sum(value.values()):
                errors[name] = _("At least one weight must be above 0.")
                continue
        elif name == "rules":
            if not isinstance(value, list) or any(r not in analysis.RULES for r in value):
                errors[name] = _("Choose rules from: %(rules)s.") % {"rules": ", ".join(analysis.RULES)}
                continue
            value = [r for r in analysis.RULES if r in value]
        elif name.startswith(("cadence_", "checkin_")):
            allowed = ([""] if name == "cadence_key" else []) + list(Cadence.values)
            if value not in allowed:
                errors[name] = _("%(value)s is not allowed; choose one of: %(choices)s.") % {
                    "value": repr(value), "choices": ", ".join(v for v in allowed if v)}
                continue
        elif name == "onboarding_templates":
            from keyplan.health.onboarding import clean_templates

            try:
                value = clean_templates(value)
            except ValidationError as error:
                errors.update({k: " ".join(v) for k, v in error.message_dict.items()})
                continue
        elif name == "upsell_plan":
            if not isinstance(value, str) or len(value) > 100:
                errors[name] = _("Give a plan name of at most 100 characters.")
                continue
            value = value.strip()
        setattr(row, name, value)
    if not errors and row.amber_from >= row.green_from:
        errors["amber_from"] = _("Amber must start below green (%(green)s).") % {"green": row.green_from}
    if errors:
        raise ValidationError(errors)
    row._history_user = by
    row.save()
    return row


def settings_dict(row: HealthSettings | None = None) -> dict:
    row = row or health_settings()
    return {name: getattr(row, name) for name in SETTING_FIELDS} | {"review_cadence_key_effective": cadence_for(Tier.KEY, row)}


# ---------------------------------------------------------------- surveys


def _check_survey(account: Account, kind: str, score, responded_on, stakeholder, today: datetime.date) -> dict:
    errors = {}
    if kind not in SCALES:
        errors["kind"] = _("%(value)s is not a survey; choose nps or csat.") % {"value": repr(kind)}
    else:
        low, high = SCALES[kind]
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            errors["score"] = _("%(kind)s is a whole number from %(low)s to %(high)s; %(value)s is not.") % {
                "kind": kind.upper(), "low": low, "high": high, "value": score}
    if not isinstance(responded_on, datetime.date):
        errors["responded_on"] = _("Give the day the survey was answered.")
    elif responded_on > today:
        errors["responded_on"] = _("%(day)s is in the future.") % {"day": responded_on.isoformat()}
    if stakeholder is not None and stakeholder.account_id != account.pk:
        errors["stakeholder"] = _("%(name)s is a stakeholder of another account.") % {"name": stakeholder.name}
    return errors


@transaction.atomic
def add_survey(account: Account, *, by: User, kind: str, score: int, responded_on: datetime.date,
               stakeholder=None, comment: str = "", today: datetime.date | None = None) -> SurveyResponse:
    """A survey answer entered on the account's health page or through the API."""
    _require_edit(by, account)
    errors = _check_survey(account, kind, score, responded_on, stakeholder, today or timezone.localdate())
    if errors:
        raise ValidationError(errors)
    return SurveyResponse.objects.create(account=account, stakeholder=stakeholder, kind=kind, score=score,
                                         responded_on=responded_on, comment=(comment or "").strip(), created_by=by)


@transaction.atomic
def remove_survey(response: SurveyResponse, *, by: User) -> None:
    _require_edit(by, response.account)
    response.delete()


SURVEY_FIELDS = {
    "account_id": ("account_id", "account", "external_id", "customer_id", "customer", "klantnummer", "kundennummer", "cliente"),
    "kind": ("kind", "survey", "type", "metric", "soort", "art", "tipo"),
    "score": ("score", "value", "rating", "nps", "csat", "cijfer", "wert", "punteggio"),
    "date": ("date", "answered", "responded_on", "answered_on", "datum", "data"),
    "stakeholder": ("stakeholder", "contact", "email", "respondent", "contactpersoon", "ansprechpartner", "referente"),
    "comment": ("comment", "comments", "remark", "opmerking", "kommentar", "commento"),
}


def import_surveys(path: str | Path, *, by: User, options=None, today: datetime.date | None = None, batch=None):
    """Survey answers (account, kind nps/csat, score, date; stakeholder by e-mail or name, comment): all rows or
    none, a report naming each bad row; the same answer imported again is recognised and skipped."""
    from keyplan.relationships.models import Stakeholder
    from keyplan.revenue.importing.batch import _finish
    from keyplan.revenue.importing.inspection import ImportResult, RowError, can_import
    from keyplan.revenue.importing.small import SmallImportOptions, _read_small, _small_batch, _stop_small_import
    from keyplan.revenue.models import BatchStatus, ImportKind
    from keyplan.revenue.reading import LINE

    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import surveys.")
    today = today or timezone.localdate()
    options, path = options or SmallImportOptions(), Path(path)
    frame, mapping, errors = _read_small(path, SURVEY_FIELDS, ("account_id", "score", "date"), options, ("date",), ("score",))
    frame = frame.with_columns(pl.col("account_id").str.strip_chars(),
                               pl.col("kind").str.strip_chars().str.to_lowercase().fill_null("nps"),
                               pl.col("stakeholder").str.strip_chars(), pl.col("comment").str.strip_chars())
    accounts = dict(Account.objects.values_list("external_id", "pk"))
    people: dict[tuple[int, str], int] = {}
    wanted = {accounts[e] for e in frame.get_column("account_id").drop_nulls().unique().to_list() if e in accounts}
    for pk, account_id, name, email in Stakeholder.objects.filter(account_id__in=wanted).values_list(
            "pk", "account_id", "name", "email"):
        people[(account_id, name.casefold())] = pk
        if email:
            people[(account_id, email.casefold())] = pk

    def column(name: str) -> str:
        return mapping.get(name, name)

    rows = []
    for line, external_id, kind, score, day, person, comment in frame.select(
            LINE, "account_id", "kind", "_score", "_date", "stakeholder", "comment").iter_rows():
        account_id = accounts.get(external_id) if external_id else None
        if external_id and account_id is None:
            errors.append(RowError.of(line, column("account_id"), external_id, "unknown_account_create_first"))
        if kind not in SCALES:
            errors.append(RowError(line, column("kind"), kind, "not a survey kind; use nps or csat", "survey_kind"))
        elif score is not None:
            low, high = SCALES[kind]
            if score != int(score) or not low <= score <= high:
                errors.append(RowError(line, column("score"), _one(score),
                                       f"{kind.upper()} is a whole number from {low} to {high}", "survey_score",
                                       {"kind": kind.upper(), "low": str(low), "high": str(high)}))
        if day is not None and day > today:
            errors.append(RowError(line, column("date"), day.isoformat(), "the date is in the future", "date_future"))
        stakeholder_id = None
        if person and account_id is not None:
            stakeholder_id = people.get((account_id, person.casefold()))
            if stakeholder_id is None:
                errors.append(RowError(line, column("stakeholder"), person,
                                       "no stakeholder of this account has this name or e-mail", "unknown_stakeholder"))
        rows.append((account_id, stakeholder_id, kind, None if score is None else int(score), day, comment or ""))
    result = ImportResult(batch=None, rows_total=frame.height, dry_run=options.dry_run)
    if errors or options.dry_run:
        return _stop_small_import(result, errors, batch, dry_run=options.dry_run)
    with transaction.atomic():
        batch = _small_batch(ImportKind.SURVEYS, path, by, mapping, batch)
        seen = set(SurveyResponse.objects.filter(account_id__in=wanted).values_list(
            "account_id", "stakeholder_id", "kind", "score", "responded_on"))
        new = []
        for account_id, stakeholder_id, kind, score, day, comment in rows:
            key = (account_id, stakeholder_id, kind, score, day)
            if key in seen:
                result.rows_duplicate += 1
                continue
            seen.add(key)
            new.append(SurveyResponse(account_id=account_id, stakeholder_id=stakeholder_id, kind=kind, score=score,
                                      responded_on=day, comment=comment, batch=batch, created_by=by))
        SurveyResponse.objects.bulk_create(new, batch_size=1000)
        result.batch, result.rows_imported = batch, len(new)
        _finish(batch, result, BatchStatus.DONE)
    return result


def _one(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def undo_usage_batch(batch) -> None:
    from keyplan.health.models import UsageRecord

    UsageRecord.objects.filter(batch=batch).delete()


def undo_ticket_batch(batch) -> None:
    from keyplan.health.models import Ticket

    Ticket.objects.filter(batch=batch).delete()


USAGE_FIELDS = {
    "account_id": SURVEY_FIELDS["account_id"],
    "date": ("date", "day", "datum", "data"),
    "metric": ("metric", "measure", "kpi", "name", "metriek", "metrik", "metrica"),
    "value": ("value", "count", "amount", "waarde", "wert", "valore"),
}
TICKET_FIELDS = {
    "account_id": SURVEY_FIELDS["account_id"],
    "ticket_id": ("ticket_id", "ticket", "id", "number", "case", "nummer", "numero"),
    "opened": ("opened", "opened_on", "created", "open", "geopend", "eroeffnet", "aperto"),
    "closed": ("closed", "closed_on", "resolved", "gesloten", "geschlossen", "chiuso"),
    "severity": ("severity", "priority", "ernst", "prioriteit", "prioritaet", "gravita", "priorita"),
}
SEVERITIES = {"low": "low", "medium": "medium", "high": "high", "critical": "critical",
              "p1": "critical", "p2": "high", "p3": "medium", "p4": "low", "urgent": "critical", "normal": "medium"}


def _small_import(kind: str, path, *, by: User, fields: dict, required: tuple, dates: tuple, numbers: tuple, options,
                  check, build, key, existing, today, future_ok: tuple = (), batch=None):
    """The shape every health import shares: read whole (the revenue area's small-import reader), check each row
    (``check(line, row, account_id, errors)``), and only when no row is bad write them all in one batch, skipping
    rows whose ``key`` is already stored or earlier in the file (duplicates are counted, not written twice)."""
    from keyplan.revenue.importing.batch import _finish
    from keyplan.revenue.importing.inspection import ImportResult, RowError, can_import
    from keyplan.revenue.importing.small import SmallImportOptions, _read_small, _small_batch, _stop_small_import
    from keyplan.revenue.models import BatchStatus
    from keyplan.revenue.reading import LINE

    if not can_import(by):
        raise PermissionDenied(f"Only KAM leads and admins import {kind}.")
    options, path = options or SmallImportOptions(), Path(path)
    frame, mapping, errors = _read_small(path, fields, required, options, dates, numbers)
    frame = frame.with_columns(pl.col("account_id").str.strip_chars())
    accounts = dict(Account.objects.values_list("external_id", "pk"))
    columns = [LINE, "account_id", *[f"_{f}" if f in dates or f in numbers else f for f in fields if f != "account_id"]]
    names = columns[2:]  # the fields, dates and numbers as parsed (``_date``, ``_value``), text as it stands
    rows = []
    for line, external_id, *values in frame.select(columns).iter_rows():
        row = dict(zip(names, values))
        account_id = accounts.get(external_id) if external_id else None
        if external_id and account_id is None:
            errors.append(RowError.of(line, mapping.get("account_id", "account_id"), external_id, "unknown_account_create_first"))
        for name in dates:
            if name not in future_ok and row[f"_{name}"] is not None and row[f"_{name}"] > today:
                errors.append(RowError(line, mapping.get(name, name), row[f"_{name}"].isoformat(), "the date is in the future",
                                       "date_future"))
        check(line, row, account_id, errors, lambda f: mapping.get(f, f))
        rows.append((account_id, row))
    result = ImportResult(batch=None, rows_total=frame.height, dry_run=options.dry_run)
    if errors or options.dry_run:
        return _stop_small_import(result, errors, batch, dry_run=options.dry_run)
    with transaction.atomic():
        batch = _small_batch(kind, path, by, mapping, batch)
        seen = existing({a for a, _ in rows})
        new = []
        for account_id, row in rows:
            k = key(account_id, row)
            if k is not None and k in seen:
                result.rows_duplicate += 1
                continue
            if k is not None:
                seen.add(k)
            new.append(build(account_id, row, batch))
        type(new[0]).objects.bulk_create(new, batch_size=2000) if new else None
        result.batch, result.rows_imported = batch, len(new)
        _finish(batch, result, BatchStatus.DONE)
    return result


def import_usage(path: str | Path, *, by: User, options=None, today: datetime.date | None = None, batch=None):
    """Product usage (account, date, metric, value): all rows or none; a day's figure of a metric imported
    again is recognised and skipped."""
    from keyplan.health.models import UsageRecord
    from keyplan.revenue.importing.inspection import RowError

    def check(line, row, account_id, errors, column):
        if row["metric"] is not None and len(row["metric"].strip()) > 100:
            errors.append(RowError.of(line, column("metric"), row["metric"], "too_long", limit=100))
        if row["_value"] is not None and abs(row["_value"]) >= 1e14:
            errors.append(RowError.of(line, column("value"), str(row["_value"]), "number_too_large"))

    return _small_import(
        "usage", path, by=by, fields=USAGE_FIELDS, required=("account_id", "date", "metric", "value"), dates=("date",),
        numbers=("value",), options=options, check=check, today=today or timezone.localdate(), batch=batch,
        build=lambda a, row, batch: UsageRecord(account_id=a, day=row["_date"], metric=row["metric"].strip(),
                                                value=decimal.Decimal(str(round(row["_value"], 4))), batch=batch),
        key=lambda a, row: (a, row["_date"], row["metric"].strip()),
        existing=lambda ids: set(UsageRecord.objects.filter(account_id__in=ids).values_list("account_id", "day", "metric")))


def import_tickets(path: str | Path, *, by: User, options=None, today: datetime.date | None = None, batch=None):
    """Support tickets (account, opened, closed, severity; ticket id optional): all rows or none; a ticket id
    imported again for the same account is recognised and skipped."""
    from keyplan.health.models import Ticket
    from keyplan.revenue.importing.inspection import RowError

    def check(line, row, account_id, errors, column):
        severity = (row["severity"] or "").strip().lower()
        if severity not in SEVERITIES:
            errors.append(RowError(line, column("severity"), row["severity"], "not a severity; use low, medium, high or critical",
                                   "ticket_severity"))
        if row["_opened"] and row["_closed"] and row["_closed"] < row["_opened"]:
            errors.append(RowError(line, column("closed"), row["_closed"].isoformat(), "closed before it was opened", "closed_before_opened"))
        if row["ticket_id"] and len(row["ticket_id"].strip()) > 64:
            errors.append(RowError.of(line, column("ticket_id"), row["ticket_id"], "too_long", limit=64))

    return _small_import(
        "tickets", path, by=by, fields=TICKET_FIELDS, required=("account_id", "opened", "severity"), dates=("opened", "closed"),
        numbers=(), options=options, check=check, today=today or timezone.localdate(), batch=batch,
        build=lambda a, row, batch: Ticket(account_id=a, ticket_id=(row["ticket_id"] or "").strip(), opened=row["_opened"],
                                           closed=row["_closed"], severity=SEVERITIES[row["severity"].strip().lower()], batch=batch),
        key=lambda a, row: (a, row["ticket_id"].strip()) if (row["ticket_id"] or "").strip() else None,
        existing=lambda ids: set(Ticket.objects.filter(account_id__in=ids).exclude(ticket_id="").values_list("account_id", "ticket_id")))


PAYMENT_FIELDS = {
    "account_id": SURVEY_FIELDS["account_id"],
    "invoice_id": ("invoice_id", "invoice", "invoice_number", "number", "factuur", "factuurnummer", "rechnung",
                   "rechnungsnummer", "fattura"),
    "due": ("due", "due_date", "due_on", "vervaldatum", "faellig", "faelligkeit", "scadenza"),
    "paid": ("paid", "paid_on", "payment_date", "betaald", "bezahlt", "pagato", "pagamento"),
    "amount": ("amount", "total", "bedrag", "betrag", "importo"),
}


def undo_payment_batch(batch) -> None:
    from keyplan.health.models import Invoice

    Invoice.objects.filter(batch=batch).delete()


def import_payments(path: str | Path, *, by: User, options=None, today: datetime.date | None = None, batch=None):
    """Invoices and their payments (account, due; invoice id, paid, amount optional): all rows or none; an
    invoice id imported again for the same account is recognised and skipped. A due date may lie ahead, a
    payment not."""
    from keyplan.health.models import Invoice
    from keyplan.revenue.importing.inspection import RowError

    def check(line, row, account_id, errors, column):
        if row["invoice_id"] and len(row["invoice_id"].strip()) > 64:
            errors.append(RowError.of(line, column("invoice_id"), row["invoice_id"], "too_long", limit=64))
        if row["_amount"] is not None and abs(row["_amount"]) >= 1e14:
            errors.append(RowError.of(line, column("amount"), str(row["_amount"]), "number_too_large"))

    def amount(value):
        return None if value is None else decimal.Decimal(str(round(value, 2)))

    return _small_import(
        "payments", path, by=by, fields=PAYMENT_FIELDS, required=("account_id", "due"), dates=("due", "paid"),
        numbers=("amount",), options=options, check=check, today=today or timezone.localdate(), future_ok=("due",),
        batch=batch,
        build=lambda a, row, batch: Invoice(account_id=a, invoice_id=(row["invoice_id"] or "").strip(), due=row["_due"],
                                            paid=row["_paid"], amount=amount(row["_amount"]), batch=batch),
        key=lambda a, row: (a, row["invoice_id"].strip()) if (row["invoice_id"] or "").strip() else None,
        existing=lambda ids: set(Invoice.objects.filter(account_id__in=ids).exclude(invoice_id="").values_list("account_id", "invoice_id")))


def payments_summary(account: Account, *, today: datetime.date | None = None) -> dict:
    """The account's invoices due in the last 180 days: how many, how many unpaid past due, days late on average."""
    today = today or timezone.localdate()
    items = list(account.invoices.filter(due__gt=today - datetime.timedelta(days=PAYMENT_WINDOW_DAYS), due__lte=today)
                 .values_list("due", "paid"))
    late = analysis.days_late(items, today)
    return {"invoices": len(items), "overdue": sum(1 for due, paid in items if paid is None and due < today),
            "days_late": None if late is None else round(late, 1),
            "latest": [{"invoice_id": i.invoice_id, "amount": float(i.amount) if i.amount is not None else None,
                        "due": i.due, "paid": i.paid,
                        "days_late": max(0, ((i.paid or today) - i.due).days)} for i in account.invoices.order_by("-due")[:12]]}


def undo_survey_batch(batch) -> None:
    """A rolled-back survey import: its answers go (called inside the rollback's transaction)."""
    SurveyResponse.objects.filter(batch=batch).delete()


def surveys_summary(account: Account, *, today: datetime.date | None = None) -> dict:
    """The account's satisfaction: averages by quarter (last four) per survey, and the response rate
    (stakeholders who answered in the last year of those mapped)."""
    today = today or timezone.localdate()
    quarters = []
    for i in range(4):
        end = today - datetime.timedelta(days=analysis.WINDOW_DAYS * i)
        start = end - datetime.timedelta(days=analysis.WINDOW_DAYS)
        sums = account.survey_responses.filter(responded_on__gt=start, responded_on__lte=end).aggregate(
            nps=Avg("score", filter=Q(kind="nps")), csat=Avg("score", filter=Q(kind="csat")), answers=Count("pk"))
        quarters.append({"to": end.isoformat(), "nps": _round(sums["nps"]), "csat": _round(sums["csat"]),
                         "answers": sums["answers"]})
    mapped = account.stakeholders.filter(archived_at__isnull=True).count()
    answered = (account.survey_responses.filter(responded_on__gt=today - datetime.timedelta(days=365),
                                                stakeholder__isnull=False).values("stakeholder").distinct().count())
    return {"quarters": quarters, "stakeholders": mapped, "answered": answered,
            "response_rate": round(answered / mapped, 2) if mapped else None}


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)


# ---------------------------------------------------------------- the facts of the score


def _rates(day: datetime.date) -> dict[str, float]:
    from django.conf import settings

    from keyplan.revenue.models import ExchangeRate

    rates = {}
    for currency, rate in ExchangeRate.objects.filter(date__lte=day).order_by("currency", "date").values_list("currency", "rate"):
        rates[currency] = float(rate)
    return rates | {settings.KEYPLAN_REPORTING_CURRENCY: 1.0}


def mrr_at(account_ids, day: datetime.date) -> dict[int, tuple[float, str]]:
    """Each account's MRR on ``day`` in the reporting currency, and the plan carrying most of it.
    A currency without a rate counts at face value (the MRR analysis names it; here a score must not fail)."""
    from keyplan.revenue.models import Subscription

    rates = _rates(day)
    running = Subscription.objects.filter(start__lte=day).filter(Q(end__isnull=True) | Q(end__gt=day))
    if account_ids is not None:
        running = running.filter(account_id__in=account_ids)
    totals: dict[int, float] = defaultdict(float)
    best: dict[int, tuple[float, str]] = {}
    for account_id, plan, amount, currency in running.values_list("account_id", "plan", "monthly_amount", "currency").iterator(chunk_size=5000):
        value = float(amount) * rates.get(currency, 1.0)
        totals[account_id] += value
        if value > best.get(account_id, (-1.0, ""))[0]:
            best[account_id] = (value, plan)
    return {pk: (total, best[pk][1]) for pk, total in totals.items()}


def facts(account_ids=None, *, today: datetime.date | None = None) -> dict[int, analysis.Facts]:
    """What the score reads, for the given accounts (None: every active account), in a few grouped queries."""
    from keyplan.planning import analysis as planning_analysis
    from keyplan.planning.models import Action, PlanState
    from keyplan.relationships import analysis as rel_analysis
    from keyplan.relationships.models import Interaction, Stakeholder
    from keyplan.relationships.services import stale_rule

    today = today or timezone.localdate()
    window = datetime.timedelta(days=analysis.WINDOW_DAYS)
    recent_from, before_from = today - window, today - 2 * window
    if account_ids is None:
        account_ids = list(Account.objects.active().values_list("pk", flat=True))
    ids = list(account_ids)
    result = {pk: analysis.Facts() for pk in ids}
    scope = {"account_id__in": ids} if len(ids) < 5000 else {"account__archived_at__isnull": True}

    recent, before = Q(responded_on__gt=recent_from), Q(responded_on__gt=before_from, responded_on__lte=recent_from)
    surveys = (SurveyResponse.objects.filter(responded_on__gt=before_from, responded_on__lte=today, **scope)
               .values("account_id", "kind").annotate(recent=Avg("score", filter=recent), before=Avg("score", filter=before))
               .order_by())
    for row in surveys:
        f = result.get(row["account_id"])
        if f is None:
            continue
        setattr(f, f"{row['kind']}_recent", _float(row["recent"]))
        setattr(f, f"{row['kind']}_before", _float(row["before"]))
    latest = (SurveyResponse.objects.filter(kind="nps", responded_on__lte=today, responded_on__gt=today - 4 * window, **scope)
              .order_by("account_id", "responded_on", "pk").values_list("account_id", "score"))
    for account_id, value in latest.iterator(chunk_size=5000):
        if account_id in result:
            result[account_id].latest_nps = value

    interactions = (Interaction.objects.filter(date__gt=before_from, date__lte=today, **scope).values("account_id")
                    .annotate(recent=Count("pk", filter=Q(date__gt=recent_from)), before=Count("pk", filter=Q(date__lte=recent_from)))
                    .order_by())
    for row in interactions:
        if row["account_id"] in result:
            result[row["account_id"]].interactions_recent = row["recent"]
            result[row["account_id"]].interactions_before = row["before"]

    selection = ids if len(ids) < 5000 else None
    now, then = mrr_at(selection, today), mrr_at(selection, recent_from)
    for pk, f in result.items():
        f.mrr_now, f.plan = now.get(pk, (0.0, ""))
        f.mrr_before = then.get(pk, (0.0, ""))[0]

    plan_scope = {"plan__account_id__in": ids} if len(ids) < 5000 else {}
    actions = (Action.objects.filter(plan__state=PlanState.ACTIVE, **plan_scope)
               .values("plan__account_id")
               .annotate(overdue=Count("pk", filter=Q(due__lt=today) & ~Q(status__in=planning_analysis.CLOSED_ACTION)))
               .order_by())
    for row in actions:
        if row["plan__account_id"] in result:
            result[row["plan__account_id"]].overdue_actions = row["overdue"]
    from keyplan.planning.models import AccountPlan

    for account_id in AccountPlan.objects.filter(state=PlanState.ACTIVE, **({"account_id__in": ids} if len(ids) < 5000 else {})
                                                 ).values_list("account_id", flat=True):
        if account_id in result:
            result[account_id].has_plan = True

    stale_days = stale_rule().days
    deciding = Q(buying_role__in=rel_analysis.DECIDING_ROLES) | Q(decision_power="high")
    people = (Stakeholder.objects.filter(archived_at__isnull=True, **scope).filter(deciding | Q(sentiment="critic"))
              .annotate(last=Max("interactions__date", filter=Q(interactions__date__lte=today)))
              .values_list("account_id", "buying_role", "decision_power", "sentiment", "owner_id", "last"))
    for account_id in Stakeholder.objects.filter(archived_at__isnull=True, **scope).values_list("account_id", flat=True).distinct():
        if account_id in result:
            result[account_id].relationships_kept = True
    for account_id, role, power, sentiment, owner, last in people.iterator(chunk_size=5000):
        f = result.get(account_id)
        if f is None:
            continue
        if sentiment == "critic" and power == "high":
            f.critics_high_power += 1
        if role in rel_analysis.DECIDING_ROLES or power == "high":
            f.decision_makers += 1
            if owner is not None and last is not None and (today - last).days < stale_days:
                f.decision_makers_covered += 1
    _usage_and_tickets(result, scope, today=today, recent_from=recent_from, before_from=before_from)
    _onboarding_and_payments(result, scope, today=today)
    return result


PAYMENT_WINDOW_DAYS = 180  # invoices due in this many days before today are read for payment delays


def _onboarding_and_payments(result: dict, scope: dict, *, today: datetime.date) -> None:
    from keyplan.health.models import Invoice

    for account_id, total, done, overdue in onboarding_counts(scope, today=today):
        f = result.get(account_id)
        if f is not None:
            f.onboarding_stages, f.onboarding_done, f.onboarding_overdue = total, done, overdue
    invoices: dict[int, list] = defaultdict(list)
    rows = Invoice.objects.filter(due__gt=today - datetime.timedelta(days=PAYMENT_WINDOW_DAYS), due__lte=today, **scope)
    for account_id, due, paid in rows.values_list("account_id", "due", "paid").iterator(chunk_size=5000):
        if account_id in result:
            invoices[account_id].append((due, paid if paid is None or paid <= today else None))
    for account_id, items in invoices.items():
        f = result[account_id]
        f.invoices = len(items)
        f.invoices_overdue = sum(1 for due, paid in items if paid is None and due < today)
        f.days_late = analysis.days_late(items, today)


def onboarding_counts(scope: dict, *, today: datetime.date):
    """(account id, stages, done, overdue) of the accounts in ``scope`` that have onboarding stages."""
    from keyplan.health.models import OnboardingStage

    done = Q(done_on__isnull=False, done_on__lte=today)
    overdue = Q(planned__lt=today) & ~done
    return (OnboardingStage.objects.filter(**scope).values("account_id")
            .annotate(total=Count("pk"), done=Count("pk", filter=done), overdue=Count("pk", filter=overdue))
            .order_by().values_list("account_id", "total", "done", "overdue"))


def _usage_and_tickets(result: dict, scope: dict, *, today, recent_from, before_from) -> None:
    from keyplan.health.models import Ticket, UsageRecord

    changes: dict[int, list[float]] = defaultdict(list)
    usage = (UsageRecord.objects.filter(day__gt=before_from, day__lte=today, **scope).values("account_id", "metric")
             .annotate(recent=Sum("value", filter=Q(day__gt=recent_from)), before=Sum("value", filter=Q(day__lte=recent_from)))
             .order_by())
    for row in usage:
        before, recent = float(row["before"] or 0), float(row["recent"] or 0)
        if before > 0:
            changes[row["account_id"]].append((recent - before) / before)
    for account_id, values in changes.items():
        if account_id in result:
            result[account_id].usage_change = sum(values) / len(values)
    year = today - datetime.timedelta(days=365)
    open_high = Q(severity__in=["high", "critical"]) & (Q(closed__isnull=True) | Q(closed__gt=today))
    tickets = (Ticket.objects.filter(opened__lte=today, **scope).filter(Q(opened__gt=year) | Q(closed__isnull=True) | Q(closed__gt=year))
               .values("account_id").annotate(high=Count("pk", filter=open_high)).order_by())
    for row in tickets:
        if row["account_id"] in result:
            result[row["account_id"]].has_tickets = True
            result[row["account_id"]].open_high_tickets = row["high"]


def _float(value) -> float | None:
    return None if value is None else float(value)


# ---------------------------------------------------------------- the score, explained


def explain(component: dict) -> str:
    """A component in words, e.g. "−12: NPS fell from 8 to 5 this quarter" (in the active language)."""
    text = "; ".join(_(EXPLANATIONS[code]) % params for code, params in component["parts"])
    points = component["contribution"]
    return f"{'−' if points < 0 else ''}{abs(points)}: {text}"


def shown(component: dict) -> dict:
    """A stored component with its label and explanation, as pages and the API show it."""
    return {"name": component["name"], "label": str(COMPONENT_LABELS[component["name"]]), "value": component["value"],
            "contribution": component["contribution"], "weight": component["weight"], "counted": component["counted"],
            "explanation": explain(component)}


def rule_labels(codes) -> list[str]:
    return [str(RULE_LABELS[c]) for c in codes if c in RULE_LABELS]


def account_health(account: Account, *, today: datetime.date | None = None) -> dict:
    """The account's health now, computed from the live data (one account: a few small queries)."""
    today = today or timezone.localdate()
    f = facts([account.pk], today=today)[account.pk]
    health = analysis.score(f, config())
    components = [c.as_dict() for c in health.components]
    return {"account": {"id": account.pk, "name": account.name}, "as_of": today.isoformat(), "score": health.score,
            "band": health.band, "components": [shown(c) for c in components], "endangered": health.endangered,
            "endangered_reasons": rule_labels(health.endangered), "mrr": round(f.mrr_now, 2), "plan": f.plan,
            "trend": [{"day": d.isoformat(), "score": s, "band": b} for d, s, b in
                      account.health_snapshots.order_by("-day").values_list("day", "score", "band")[:90]][::-1]}


# ---------------------------------------------------------------- the daily snapshot


@dataclass
class SnapshotRun:
    day: datetime.date
    accounts: int
    endangered: int
    cases_opened: int
    replaced: bool  # the day had a snapshot already, now replaced by this one

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "accounts": self.accounts, "endangered": self.endangered,
                "cases_opened": self.cases_opened, "replaced": self.replaced}


def _kams(account_ids) -> dict[int, int]:
    rows = TeamMember.objects.filter(role=TeamRole.KAM)
    if account_ids is not None:
        rows = rows.filter(account_id__in=account_ids)
    return dict(rows.values_list("account_id", "user_id"))


def take_snapshot(*, today: datetime.date | None = None) -> SnapshotRun:
    """Score every active account for ``today``, open cases for newly endangered accounts and store the
    program's numbers. Safe to run twice a day: the day's snapshot is replaced, and an account with an
    open case (or one closed in the last 30 days) gets no second case."""
    today = today or timezone.localdate()
    row = health_settings()
    cfg = config(row)
    accounts = {pk: (name, tier) for pk, name, tier in Account.objects.active().values_list("pk", "name", "tier").iterator(chunk_size=10000)}
    gathered = facts(list(accounts), today=today)
    snapshots, rows, flagged = [], [], {}
    for pk, f in gathered.items():
        health = analysis.score(f, cfg)
        snapshots.append(HealthSnapshot(account_id=pk, day=today, score=health.score, band=health.band,
                                        components=[c.as_dict() for c in health.components],
                                        mrr=decimal.Decimal(str(round(f.mrr_now, 2))), plan=f.plan[:100],
                                        endangered=health.endangered))
        name, tier = accounts[pk]
        rows.append(analysis.Row(pk, name, tier, f.plan, f.mrr_now, f.mrr_before, health.score, health.band,
                                 bool(health.endangered), f.nps_recent, f.csat_recent))
        if health.endangered:
            flagged[pk] = (health.endangered, f.mrr_now)
    with transaction.atomic():
        replaced = HealthSnapshot.objects.filter(day=today).exists()
        HealthSnapshot.objects.filter(day=today).delete()
        HealthSnapshot.objects.bulk_create(snapshots, batch_size=2000)
        opened = _open_flagged_cases(flagged, today=today)
        _store_program(rows, row, today=today)
    return SnapshotRun(today, len(snapshots), len(flagged), opened, replaced)


def _open_flagged_cases(flagged: dict[int, tuple[list[str], float]], *, today: datetime.date) -> int:
    if not flagged:
        return 0
    grace = today - datetime.timedelta(days=analysis.CLOSED_GRACE_DAYS)
    busy = set(RiskCase.objects.filter(Q(closed_on__isnull=True) | Q(closed_on__gte=grace)).values_list("account_id", flat=True))
    open_cases = {c.account_id: c for c in RiskCase.objects.open().filter(account_id__in=list(flagged)[:50000])}
    for account_id, case in open_cases.items():  # the queue's numbers follow the day's MRR and rules
        rules, mrr = flagged[account_id]
        case.mrr_at_risk, case.rules = decimal.Decimal(str(round(mrr, 2))), rules
    RiskCase.objects.bulk_update(list(open_cases.values()), ["mrr_at_risk", "rules"], batch_size=1000)
    kams = _kams(list(flagged))
    new = [RiskCase(account_id=pk, opened_on=today, rules=rules, reason="; ".join(_english_rules(rules)),
                    mrr_at_risk=decimal.Decimal(str(round(mrr, 2))), owner_id=kams.get(pk))
           for pk, (rules, mrr) in flagged.items() if pk not in busy]
    RiskCase.objects.bulk_create(new, batch_size=1000)
    return len(new)


def _english_rules(codes) -> list[str]:
    from django.utils import translation

    with translation.override("en"):
        return rule_labels(codes)


def _store_program(rows: list[analysis.Row], row: HealthSettings, *, today: datetime.date) -> None:
    from keyplan.revenue.models import Subscription

    tiers = dict(Account.objects.active().values_list("tier").annotate(n=Count("pk")).order_by())
    numbers = analysis.program(rows, tiers={t: tiers.get(t, 0) for t in Tier.values})
    running = Subscription.objects.filter(start__lte=today).filter(Q(end__isnull=True) | Q(end__gt=today))
    plan, plan_mrr = analysis.premium_plan(running.values_list("plan", "monthly_amount").iterator(chunk_size=10000),
                                           row.upsell_plan)
    numbers["premium_upsell"] = analysis.premium_upsell(rows, plan=plan, plan_mrr=plan_mrr, upsell_from=row.upsell_from)
    numbers["reviews_due"] = len(reviews_due(Account.objects.all(), today=today, within_days=0))
    numbers["checkins_due"] = len(checkins_due(Account.objects.all(), today=today, within_days=0))
    onboarding = {status: 0 for status in analysis.ONBOARDING_STATUSES}
    key_ids = Account.objects.active().filter(tier=Tier.KEY)
    for _account_id, total, done, overdue in onboarding_counts({"account__in": key_ids}, today=today):
        onboarding[analysis.onboarding_status(total, done, overdue)] += 1
    onboarding["none"] = tiers.get(Tier.KEY, 0) - sum(onboarding.values())
    numbers["key_account_onboarding"] = onboarding
    at_risk = RiskCase.objects.open().aggregate(total=Sum("mrr_at_risk"), n=Count("pk"))
    numbers["mrr_at_risk"], numbers["risk_cases"] = round(float(at_risk["total"] or 0), 2), at_risk["n"]
    ProgramSnapshot.objects.update_or_create(day=today, defaults={"numbers": numbers})


def snapshot_trend(account: Account, days: int = 90) -> list[dict]:
    return [{"day": d.isoformat(), "score": s, "band": b}
            for d, s, b in account.health_snapshots.order_by("-day").values_list("day", "score", "band")[:days]][::-1]


# ---------------------------------------------------------------- the at-risk queue


def queue(user: User):
    """Open cases the user may see, most MRR at risk first, then longest in the queue."""
    return (RiskCase.objects.open().visible_to(user).select_related("account", "owner", "plan_goal")
            .order_by("-mrr_at_risk", "opened_on", "pk"))


def case_dict(case: RiskCase, *, today: datetime.date | None = None) -> dict:
    today = today or timezone.localdate()
    return {"id": case.pk, "version": case.version, "account": {"id": case.account_id, "name": case.account.name},
            "mrr_at_risk": float(case.mrr_at_risk), "days_in_queue": ((case.closed_on or today) - case.opened_on).days,
            "opened_on": case.opened_on.isoformat(), "owner": _user_dict(case.owner),
            "reason": "; ".join(rule_labels(case.rules)) or case.reason, "rules": case.rules,
            "outcome": case.outcome or None, "closed_on": case.closed_on.isoformat() if case.closed_on else None,
            "note": case.note,
            "plan_goal": None if case.plan_goal_id is None else {"id": case.plan_goal_id, "plan_id": case.plan_goal.plan_id},
            "actions": [{"id": a.pk, "title": a.title, "owner": _user_dict(a.owner), "due": a.due.isoformat() if a.due else None,
                         "done_on": a.done_on.isoformat() if a.done_on else None, "done": a.is_done,
                         "plan_action_id": a.plan_action_id} for a in case.actions.all()]}


def _user_dict(user: User | None) -> dict | None:
    return None if user is None else {"id": user.pk, "username": user.username, "name": user.get_full_name() or user.username}


def _check_day(name: str, day, today: datetime.date) -> None:
    if not isinstance(day, datetime.date):
        raise ValidationError({name: _("Give a date.")})
    if day > today:
        raise ValidationError({name: _("%(day)s is in the future.") % {"day": day.isoformat()}})


@transaction.atomic
def open_case(account: Account, *, by: User, reason: str, owner: User | None = None,
              today: datetime.date | None = None) -> RiskCase:
    """Put an account in the at-risk queue by hand (the snapshot does it for the accounts the rules flag)."""
    _require_edit(by, account)
    today = today or timezone.localdate()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the account is at risk.")})
    if RiskCase.objects.open().filter(account=account).exists():
        raise ValidationError({"account": _("%(name)s is in the at-risk queue already.") % {"name": account.name}})
    mrr = mrr_at([account.pk], today).get(account.pk, (0.0, ""))[0]
    if owner is None:
        owner_id = _kams([account.pk]).get(account.pk)
        owner = User.objects.filter(pk=owner_id).first() if owner_id else None
    case = RiskCase(account=account, opened_on=today, reason=reason, mrr_at_risk=decimal.Decimal(str(round(mrr, 2))), owner=owner)
    case._history_user = by
    case.save()
    return case


@transaction.atomic
def update_case(case: RiskCase, *, by: User, owner: User | None = None, note: str | None = None,
                version: int | None = None) -> RiskCase:
    _require_edit(by, case.account)
    case = RiskCase.objects.select_for_update().get(pk=case.pk)
    check_version(case, version)
    if owner is not None:
        case.owner = owner
    if note is not None:
        case.note = note.strip()
    bump(case)
    case._history_user = by
    case.save()
    return case


@transaction.atomic
def close_case(case: RiskCase, *, by: User, outcome: str | None, closed_on: datetime.date | None = None,
               note: str | None = None, today: datetime.date | None = None, version: int | None = None) -> RiskCase:
    """Close a case with its outcome (saved, downgraded, churned) and the day; without an outcome it stays open."""
    _require_edit(by, case.account)
    today = today or timezone.localdate()
    case = RiskCase.objects.select_for_update().get(pk=case.pk)
    check_version(case, version)
    if not case.is_open:
        raise ValidationError({"case": _("This case was closed on %(day)s.") % {"day": case.closed_on.isoformat()}})
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": _("A case closes with its outcome: saved, downgraded or churned.")})
    closed_on = closed_on or today
    _check_day("closed_on", closed_on, today)
    if closed_on < case.opened_on:
        raise ValidationError({"closed_on": _("The case was opened on %(day)s.") % {"day": case.opened_on.isoformat()}})
    case.outcome, case.closed_on = outcome, closed_on
    if note is not None:
        case.note = note.strip()
    bump(case)
    case._history_user = by
    case.save()
    return case


def save_plan_home(case: RiskCase):
    """The account plan a case's save plan belongs in: the account's active plan, else its newest draft
    (an archived plan takes no new actions); None when it has neither."""
    from keyplan.planning.models import PlanState
    from keyplan.planning.services import current_plan

    plan = current_plan(case.account)
    return plan if plan is not None and plan.state in (PlanState.ACTIVE, PlanState.DRAFT) else None


def _plan_goal(case: RiskCase, plan, *, by: User):
    """The plan's goal that carries this case's actions ("Keep <account>: at-risk since <day>"), made once."""
    from keyplan.planning import services as planning
    from keyplan.planning.models import Horizon

    if case.plan_goal is not None and case.plan_goal.plan_id == plan.pk:
        return case.plan_goal
    owner = case.owner if case.owner is not None and planning.assignable_users(case.account).filter(pk=case.owner.pk).exists() else None
    goal = planning.add_goal(plan, by=by, data={"horizon": Horizon.SHORT, "owner": owner}, text_code="save_plan",
                             text_params={"day": case.opened_on.isoformat(), "rules": list(case.rules), "reason": case.reason})
    case.plan_goal = goal
    bump(case)
    case._history_user = by
    case.save(update_fields=["plan_goal", "version"])
    return goal


def _mirror(action: SaveAction, goal, *, by: User) -> None:
    """The save action as an action of the account plan, under the case's goal; done when it is done."""
    from keyplan.planning import services as planning
    from keyplan.planning.models import ActionStatus

    owner = action.owner if action.owner is not None and planning.assignable_users(goal.plan.account).filter(pk=action.owner.pk).exists() else None
    planned = planning.add_action(goal, by=by, data={
        "title": action.title, "owner": owner, "due": action.due,
        "status": ActionStatus.DONE if action.done_on else ActionStatus.NOT_STARTED})
    action.plan_action = planned
    action._history_user = by
    action.save(update_fields=["plan_action"])


@transaction.atomic
def add_save_action(case: RiskCase, *, by: User, title: str, owner: User | None = None,
                    due: datetime.date | None = None) -> SaveAction:
    """A step of the save plan; when the account has an active or draft account plan, the step is also an
    action of that plan (under the case's goal), so that the plan shows what is being done to keep the account."""
    _require_edit(by, case.account)
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Give the action a title.")})
    if len(title) > 200:
        raise ValidationError({"title": _("At most 200 characters.")})
    if not case.is_open:
        raise ValidationError({"case": _("The case is closed.")})
    action = SaveAction(case=case, title=title, owner=owner or by, due=due)
    action._history_user = by
    action.save()
    plan = save_plan_home(case)
    if plan is not None:
        _mirror(action, _plan_goal(case, plan, by=by), by=by)
    return action


@transaction.atomic
def link_save_plan(case: RiskCase, *, by: User) -> int:
    """Put the save plan's actions not yet in an account plan into the account's plan (made after the case,
    or activated since); how many were added. Refused when the account has no active or draft plan."""
    _require_edit(by, case.account)
    plan = save_plan_home(case)
    if plan is None:
        raise ValidationError({"plan": _("%(name)s has no active or draft account plan.") % {"name": case.account.name}})
    pending = list(case.actions.filter(plan_action__isnull=True).select_related("owner"))
    if pending:
        goal = _plan_goal(case, plan, by=by)
        for action in pending:
            _mirror(action, goal, by=by)
    return len(pending)


@transaction.atomic
def complete_save_action(action: SaveAction, *, by: User, today: datetime.date | None = None) -> SaveAction:
    """The step is done, and so is its action in the account plan."""
    from keyplan.planning import services as planning
    from keyplan.planning.models import ActionStatus

    _require_edit(by, action.case.account)
    action.done_on = today or timezone.localdate()
    action._history_user = by
    action.save()
    if action.plan_action is not None and action.plan_action.status != ActionStatus.DONE:
        planning.update_action(action.plan_action, by=by, version=None, changes={"status": ActionStatus.DONE})
    return action


def mrr_at_risk(user: User) -> float:
    return float(RiskCase.objects.open().visible_to(user).aggregate(total=Sum("mrr_at_risk"))["total"] or 0)


# ---------------------------------------------------------------- account reviews


def cadence_for(tier: str, row: HealthSettings | None = None) -> str:
    """How often accounts of a key status are reviewed; key accounts follow the selection settings' cadence
    unless the health settings name one of their own."""
    row = row or health_settings()
    if tier == Tier.KEY:
        if row.cadence_key:
            return row.cadence_key
        from keyplan.scoring.services import scoring_settings

        return scoring_settings().review_cadence  # monthly or quarterly
    return row.cadence_candidate if tier == Tier.CANDIDATE else row.cadence_standard


REVIEW_FIELDS = ("what_changed", "plan_progress", "risks", "decisions")


@transaction.atomic
def record_review(account: Account, *, by: User, held_on: datetime.date, today: datetime.date | None = None,
                  **texts: str) -> AccountReview:
    """The record of a review held: what changed, health, plan progress, risks, decisions."""
    _require_edit(by, account)
    today = today or timezone.localdate()
    unknown = sorted(set(texts) - set(REVIEW_FIELDS))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})
    _check_day("held_on", held_on, today)
    snapshot = account.health_snapshots.filter(day__lte=held_on).order_by("-day").first()
    score = snapshot.score if snapshot else account_health(account, today=held_on)["score"]
    review = AccountReview(account=account, held_on=held_on, held_by=by, health_score=score,
                           **{k: (v or "").strip() for k, v in texts.items()})
    review._history_user = by
    review.save()
    return review


@dataclass
class Due:
    account: Account
    cadence: str
    last_held: datetime.date | None
    due: datetime.date
    overdue: bool
    kam: str = ""

    def as_dict(self) -> dict:
        return {"account": {"id": self.account.pk, "name": self.account.name}, "cadence": self.cadence,
                "last_held": self.last_held.isoformat() if self.last_held else None, "due": self.due.isoformat(),
                "overdue": self.overdue, "kam": self.kam}


def reviews_due(accounts, *, today: datetime.date | None = None, within_days: int = 7) -> list[Due]:
    """Reviews due within ``within_days`` or overdue, for the given accounts (by their key status's cadence),
    most overdue first. An account never reviewed is due today."""
    row = health_settings()
    return _due(accounts, {tier: cadence_for(tier, row) for tier in Tier.values}, "account_reviews__held_on",
                today=today or timezone.localdate(), within_days=within_days)


def checkin_cadence(tier: str, row: HealthSettings | None = None) -> str:
    """How often the customer is met for feedback, by key status (health settings)."""
    row = row or health_settings()
    return {Tier.KEY: row.checkin_key, Tier.CANDIDATE: row.checkin_candidate}.get(tier, row.checkin_standard)


def checkins_due(accounts, *, today: datetime.date | None = None, within_days: int = 7) -> list[Due]:
    """Customer check-ins due within ``within_days`` or overdue, as ``reviews_due`` (never met: due today)."""
    row = health_settings()
    return _due(accounts, {tier: checkin_cadence(tier, row) for tier in Tier.values}, "checkins__held_on",
                today=today or timezone.localdate(), within_days=within_days)


CHECKIN_FIELDS = ("attendees", "feedback", "follow_up")


@transaction.atomic
def record_checkin(account: Account, *, by: User, held_on: datetime.date, today: datetime.date | None = None,
                   **texts: str):
    """The record of a check-in with the customer: when, with whom, their feedback and our follow-up."""
    from keyplan.health.models import CustomerCheckIn

    _require_edit(by, account)
    today = today or timezone.localdate()
    unknown = sorted(set(texts) - set(CHECKIN_FIELDS))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})
    _check_day("held_on", held_on, today)
    texts = {k: (v or "").strip() for k, v in texts.items()}
    if len(texts.get("attendees", "")) > 300:
        raise ValidationError({"attendees": _("At most 300 characters.")})
    checkin = CustomerCheckIn(account=account, held_on=held_on, held_by=by, **texts)
    checkin._history_user = by
    checkin.save()
    return checkin


def _due(accounts, cadences: dict[str, str], last: str, *, today: datetime.date, within_days: int) -> list[Due]:
    tiers = [t for t, c in cadences.items() if c != "none"]
    chosen = accounts.filter(archived_at__isnull=True, tier__in=tiers).annotate(last=Max(last))
    kams = {}
    result = []
    for account in chosen.order_by("name")[:2000]:
        due = analysis.next_review(account.last, cadences[account.tier], since=today)
        if due is not None and due <= today + datetime.timedelta(days=within_days):
            result.append(Due(account, cadences[account.tier], account.last, due, due < today))
    if result:
        kams = dict(TeamMember.objects.filter(role=TeamRole.KAM, account__in=[d.account for d in result])
                    .values_list("account_id", "user__username"))
    for d in result:
        d.kam = kams.get(d.account.pk, "")
    return sorted(result, key=lambda d: (d.due, d.account.name))


def key_accounts_of(user: User):
    """The accounts a KAM looks after (those they are KAM of), else every account they may see."""
    mine = Account.objects.filter(team_members__user=user, team_members__role=TeamRole.KAM)
    return mine if mine.exists() else Account.objects.visible_to(user)


# ---------------------------------------------------------------- the dashboard and the week


def latest_program() -> ProgramSnapshot | None:
    return ProgramSnapshot.objects.order_by("-day").first()


TREND_SNAPSHOTS = 90  # the dashboard's trends show the last 90 daily snapshots


def dashboard(user: User) -> dict:
    """The program view: the latest snapshot's numbers plus the live queue (a handful of indexed rows)."""
    snap = latest_program()
    numbers = dict(snap.numbers) if snap else {}
    open_cases = RiskCase.objects.open().visible_to(user)
    totals = open_cases.aggregate(total=Sum("mrr_at_risk"), n=Count("pk"))
    trend = list(ProgramSnapshot.objects.order_by("-day").values_list("day", "numbers__mrr")[:30])[::-1]
    history = list(ProgramSnapshot.objects.order_by("-day").values_list(
        "day", "numbers__mrr_at_risk", "numbers__risk_cases", "numbers__mrr_by_plan")[:TREND_SNAPSHOTS])[::-1]
    return {
        "as_of": snap.day.isoformat() if snap else None,
        "accounts_by_tier": numbers.get("accounts_by_tier", {}),
        "mrr": numbers.get("mrr", 0), "arr": numbers.get("arr", 0),
        "mrr_by_plan": numbers.get("mrr_by_plan", {}),
        "mrr_by_plan_90_days_ago": numbers.get("mrr_by_plan_90_days_ago", {}),
        "bands": numbers.get("bands", {}), "key_account_bands": numbers.get("key_account_bands", {}),
        "endangered": numbers.get("endangered", 0),
        "mrr_at_risk": float(totals["total"] or 0), "risk_cases": totals["n"],
        "satisfaction": numbers.get("satisfaction", {}),
        "premium_upsell": numbers.get("premium_upsell", {"items": [], "count": 0, "total_added_mrr": 0}),
        "mrr_trend": [{"day": d.isoformat(), "mrr": m} for d, m in trend],
        # The queue's MRR as each snapshot left it (snapshots before it was noted are left out) and MRR by plan.
        "mrr_at_risk_trend": [{"day": d.isoformat(), "mrr_at_risk": risk, "risk_cases": n or 0}
                              for d, risk, n, _plans in history if risk is not None],
        "mrr_by_plan_trend": [{"day": d.isoformat(), "mrr_by_plan": plans or {}} for d, _risk, _n, plans in history],
        "reviews_due": numbers.get("reviews_due", 0),
        "checkins_due": numbers.get("checkins_due", 0),
        "key_account_onboarding": numbers.get("key_account_onboarding", {}),
    }


def key_account_rows(user: User, *, limit: int = 200) -> list[dict]:
    """The key accounts with their latest score, band and endangerment (the dashboard's table)."""
    snap = latest_program()
    if snap is None:
        return []
    keys = Account.objects.visible_to(user).active().filter(tier=Tier.KEY)
    rows = (HealthSnapshot.objects.filter(day=snap.day, account__in=keys).select_related("account")
            .order_by("score", "account__name")[:limit])
    from keyplan.health.onboarding import statuses

    kams = _kams([r.account_id for r in rows])
    names = {u.pk: u.get_full_name() or u.username for u in User.objects.filter(pk__in=set(kams.values()))}
    onboarding = statuses([r.account_id for r in rows])
    return [{"account": r.account, "score": r.score, "band": r.band, "mrr": r.mrr, "plan": r.plan,
             "endangered": rule_labels(r.endangered), "kam": names.get(kams.get(r.account_id), ""),
             "onboarding": onboarding[r.account_id]} for r in rows]


NEWLY_DAYS = 7


def week_items(accounts, *, today: datetime.date | None = None) -> dict[int, dict[str, list]]:
    """For the home page's "this week": per account, its overdue reviews and its case if it entered the
    at-risk queue in the last week."""
    today = today or timezone.localdate()
    items: dict[int, dict[str, list]] = defaultdict(lambda: {"reviews": [], "risks": []})
    for due in reviews_due(accounts, today=today, within_days=0):
        if due.overdue:
            items[due.account.pk]["reviews"].append(due)
    for case in RiskCase.objects.open().filter(account__in=accounts, opened_on__gte=today - datetime.timedelta(days=NEWLY_DAYS)):
        case.reasons = rule_labels(case.rules) or [case.reason]
        items[case.account_id]["risks"].append(case)
    return items


# ---------------------------------------------------------------- notifications


NOTIFICATION_TEXT = {
    "review_overdue": gettext_noop("The account review of %(account)s was due on %(due)s."),
    "endangered": gettext_noop("%(account)s entered the at-risk queue: %(reason)s."),
    "stale": gettext_noop("%(person)s at %(account)s has not been contacted for %(days)s days."),
    "stale_never": gettext_noop("%(person)s at %(account)s has never been contacted."),
    "action_overdue": gettext_noop("The plan action “%(action)s” for %(account)s was due on %(due)s."),
    "checkin_overdue": gettext_noop("The check-in with the customer %(account)s was due on %(due)s."),
    "onboarding_overdue": gettext_noop("The onboarding stage “%(stage)s” of %(account)s was planned for %(due)s."),
}


def notification_text(notification) -> str:
    """The notice in the reader's language: the day in their calendar and digits, a default onboarding stage's name
    in their words (the parameters keep ISO days and the stored names)."""
    from keyplan.core.dates import format_date
    from keyplan.core.numbers import digits
    from keyplan.health.models import template_text

    code = notification.params.get("code", notification.kind)
    params = dict(notification.params)
    if isinstance(params.get("due"), str):
        try:
            params["due"] = format_date(datetime.date.fromisoformat(params["due"]), "SHORT_DATE_FORMAT")
        except ValueError:
            pass
    if isinstance(params.get("stage"), str):
        params["stage"] = template_text(params["stage"])
    if isinstance(params.get("days"), int):
        params["days"] = digits(params["days"])
    return _(NOTIFICATION_TEXT[code]) % params


@dataclass
class NotifyRun:
    created: int
    emailed: int
    users: int

    def as_dict(self) -> dict:
        return {"created": self.created, "emailed": self.emailed, "users": self.users}


def _events(user: User, *, today: datetime.date) -> list[tuple[str, str, Account, dict, str]]:
    """(kind, key, account, params, url) of what the user should act on now."""
    from django.urls import reverse

    from keyplan.planning import analysis as planning_analysis
    from keyplan.planning.models import Action, PlanState
    from keyplan.relationships.services import stale_alerts

    mine = Account.objects.filter(archived_at__isnull=True, team_members__user=user,
                                  team_members__role=TeamRole.KAM).distinct()
    events = []
    for due in reviews_due(mine, today=today, within_days=0):
        if due.overdue:
            events.append(("review_overdue", f"review:{due.account.pk}:{due.due.isoformat()}", due.account,
                           {"account": due.account.name, "due": due.due.isoformat()}, reverse("health:account", args=[due.account.pk])))
    for case in RiskCase.objects.open().filter(Q(owner=user) | Q(account__in=mine)).select_related("account").distinct():
        events.append(("endangered", f"case:{case.pk}", case.account,
                       {"account": case.account.name, "reason": "; ".join(_english_rules(case.rules)) or case.reason},
                       reverse("health:case", args=[case.pk])))
    for alert in stale_alerts(mine.filter(tier=Tier.KEY), today=today):
        stale, person = alert.stale, alert.person
        code = "stale_never" if stale.never else "stale"
        # One notification per person and month of silence: a long silence is raised again, not daily.
        events.append(("stale", f"stale:{person.id}:{today.strftime('%Y-%m')}", alert.account,
                       {"code": code, "account": alert.account.name, "person": person.name, "days": stale.days_since},
                       reverse("relationships:map", args=[alert.account.pk])))
    for due in checkins_due(mine, today=today, within_days=0):
        if due.overdue:
            events.append(("checkin_overdue", f"checkin:{due.account.pk}:{due.due.isoformat()}", due.account,
                           {"account": due.account.name, "due": due.due.isoformat()},
                           reverse("health:account", args=[due.account.pk]) + "#checkins"))
    from keyplan.health.models import OnboardingStage

    late = (OnboardingStage.objects.filter(Q(owner=user) | Q(account__in=mine), done_on__isnull=True, planned__lt=today,
                                           account__archived_at__isnull=True).select_related("account").distinct())
    for stage in late:
        events.append(("onboarding_overdue", f"onboarding:{stage.pk}:{stage.planned.isoformat()}", stage.account,
                       {"account": stage.account.name, "stage": stage.name[:150], "due": stage.planned.isoformat()},
                       reverse("health:onboarding", args=[stage.account_id])))
    overdue = (Action.objects.filter(owner=user, plan__state=PlanState.ACTIVE, due__lt=today)
               .exclude(status__in=planning_analysis.CLOSED_ACTION).select_related("plan__account"))
    for action in overdue:
        account = action.plan.account
        events.append(("action_overdue", f"action:{action.pk}:{action.due.isoformat()}", account,
                       {"account": account.name, "action": action.title[:150], "due": action.due.isoformat()},
                       reverse("planning:plan", args=[account.pk, action.plan_id])))
    return events


def notify(*, today: datetime.date | None = None, email: bool = False) -> NotifyRun:
    """Raise each KAM's notifications (overdue reviews, accounts in the at-risk queue, stale relationships,
    overdue plan actions), each once; with ``email``, send each user one digest of what no digest carried yet.
    Safe to run twice: a notification's key is raised once, and one e-mailed is never e-mailed again."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.utils import translation

    from keyplan.health.models import Notification

    today = today or timezone.localdate()
    users = User.objects.filter(is_active=True, team_memberships__role=TeamRole.KAM).distinct()
    created = emailed = 0
    for user in users:
        rows = [Notification(user=user, account=account, kind=kind, key=key[:100], params=params, url=url)
                for kind, key, account, params, url in _events(user, today=today)]
        before = Notification.objects.filter(user=user).count()
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        created += Notification.objects.filter(user=user).count() - before
        if not (email and user.email):
            continue
        with transaction.atomic():
            pending = list(Notification.objects.select_for_update().filter(user=user, emailed_at__isnull=True, read_at__isnull=True))
            if not pending:
                continue
            with translation.override(settings.LANGUAGE_CODE):
                lines = [f"- {notification_text(n)}" for n in pending]
                subject = _("Keyplan: %(n)s things to look at") % {"n": len(pending)}
            send_mail(subject, "\n".join(lines) + "\n", None, [user.email])
            Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=timezone.now())
            emailed += 1
    return NotifyRun(created, emailed, users.count())


def notifications_of(user: User, *, unread_only: bool = False):
    from keyplan.health.models import Notification

    rows = Notification.objects.filter(user=user).select_related("account")
    return rows.filter(read_at__isnull=True) if unread_only else rows


def mark_read(user: User, ids=None) -> int:
    rows = notifications_of(user, unread_only=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())


def notification_dict(n) -> dict:
    return {"id": n.pk, "kind": n.kind, "account": {"id": n.account_id, "name": n.account.name}, "text": notification_text(n),
            "url": n.url, "created_at": n.created_at.isoformat(timespec="seconds"),
            "read_at": n.read_at.isoformat(timespec="seconds") if n.read_at else None,
            "emailed_at": n.emailed_at.isoformat(timespec="seconds") if n.emailed_at else None}


# ---------------------------------------------------------------- the back-test


def backtest(*, months: int = 12, horizon: int = 3, tiers=(Tier.KEY, Tier.CANDIDATE),
             today: datetime.date | None = None) -> dict:
    """Judge the score on history, as the selection criteria are judged: on the first of each of the last
    ``months`` months that have ``horizon`` months after them, score each account of ``tiers`` that had MRR
    from the data as it stood that day, and see whether it churned or contracted ``horizon`` months later."""
    if not 1 <= months <= 36 or not 1 <= horizon <= 12:
        raise ValidationError({"months": _("Give 1 to 36 months and a horizon of 1 to 12 months.")})
    today = today or timezone.localdate()
    cfg = config()
    ids = list(Account.objects.active().filter(tier__in=tiers).values_list("pk", flat=True))
    last = analysis.add_months(today.replace(day=1), -horizon)
    days = [analysis.add_months(last, -i) for i in range(months)][::-1]
    observations, per_day = [], []
    for day in days:
        gathered = facts(ids, today=day)
        later = mrr_at(ids, analysis.add_months(day, horizon))
        month = []
        for pk, f in gathered.items():
            if f.mrr_now <= 0:
                continue  # nothing to lose
            band = analysis.score(f, cfg).band
            month.append((band, analysis.outcome(f.mrr_now, later.get(pk, (0.0, ""))[0])))
        observations += month
        per_day.append({"day": day.isoformat(), **analysis.backtest(month)["bands"]["red"]})
    return {"months": months, "horizon": horizon, "tiers": list(tiers), "from": days[0].isoformat(),
            "to": days[-1].isoformat(), **analysis.backtest(observations), "by_month": per_day}
