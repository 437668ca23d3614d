"""Live feeds: every list and the portfolio analyses at a stable URL, as CSV or JSON, for Excel's Get Data → From
Web, Power BI and Google Sheets to refresh.

A feed reads as the user of the read-only feed token sent in the ``Authorization: Bearer kpf_…`` header (or as the
signed-in user in a browser), so it holds only what that user may see. Columns are declared once by the apps
(``tables.py``); a feed writes them in English with stable names whatever the reader's language, so that a
refresh never breaks a query built on them. Rows are read and sent a chunk at a time; every text cell passes
OWASP's formula rule (`keyplan.core.exports.safe_cell`).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from keyplan.core.exports import CHUNK_ROWS, Column, Table, csv_chunks, iterate, safe_cell
from keyplan.core.models import User


class FeedError(ValueError):
    """A query parameter the feed cannot use: its name and why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Feed:
    name: str
    title: Any  # shown on the feeds page
    kind: str  # "list" or "analysis"
    rows: Callable[[User, Any], tuple[Table, Iterable]]  # (user, request.GET) → columns and rows
    parameters: str = ""  # the query parameters it takes, for the feeds page


def _form_rows(form, rows: Callable[[dict], Iterable]) -> Iterable:
    if not form.is_valid():
        name, messages = next(iter(form.errors.items()))
        raise FeedError(name, " ".join(str(m) for m in messages))
    return rows(form.cleaned_data)


# ---------------------------------------------------------------- the lists


def _accounts(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.accounts.filters import AccountFilter, with_kam
    from keyplan.accounts.models import Account
    from keyplan.accounts.tables import ACCOUNTS

    form = AccountFilter(query)
    return ACCOUNTS, _form_rows(form, lambda _data: with_kam(form.apply(Account.objects.visible_to(user)).select_related("parent")))


def _risk_queue(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.health.services import queue
    from keyplan.health.tables import RISK_QUEUE

    return RISK_QUEUE, queue(user)


def _reviews(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.accounts.models import Account
    from keyplan.health.services import reviews_due
    from keyplan.health.tables import REVIEWS_DUE

    return REVIEWS_DUE, reviews_due(Account.objects.visible_to(user), within_days=7)


def _plans(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.planning.services import portfolio
    from keyplan.planning.tables import PLANS

    return PLANS, portfolio(user)


def _stale(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.accounts.models import Account
    from keyplan.relationships.services import stale_alerts
    from keyplan.relationships.tables import STALE

    return STALE, stale_alerts(Account.objects.visible_to(user).active())


def _visible(user: User, query):
    """The active accounts ``user`` may see, narrowed to one by ``?account=EXTERNAL_ID``."""
    from keyplan.accounts.models import Account

    accounts = Account.objects.visible_to(user).active()
    external_id = (query.get("account") or "").strip()
    if external_id:
        if len(external_id) > 100:
            raise FeedError("account", "An external id has at most 100 characters.")
        accounts = accounts.filter(external_id=external_id)
    return accounts


def _with_account(table: Table, name: str) -> Table:
    """A list of one account's page, across accounts: the account's name and external id first."""
    return Table(name, (Column(_("Account"), lambda row: row.account.name),
                        Column(_("External id"), lambda row: row.account.external_id), *table.columns))


def _stakeholders(user: User, query) -> tuple[Table, Iterable]:
    from django.utils import timezone

    from keyplan.relationships.filters import StakeholderFilter
    from keyplan.relationships.models import Stakeholder
    from keyplan.relationships.tables import STAKEHOLDERS

    form = StakeholderFilter(query)
    accounts = _visible(user, query)
    return _with_account(STAKEHOLDERS, "stakeholders"), _form_rows(form, lambda _data: form.apply(
        Stakeholder.objects.filter(account__in=accounts), today=timezone.localdate())
        .select_related("account", "owner", "reports_to").order_by("account__name", "account_id", "name", "pk"))


def _interactions(user: User, query) -> tuple[Table, Iterable]:
    from django.utils import timezone

    from keyplan.relationships.filters import InteractionFilter
    from keyplan.relationships.models import Interaction
    from keyplan.relationships.tables import INTERACTIONS

    form = InteractionFilter(query)
    accounts = _visible(user, query)
    return _with_account(INTERACTIONS, "interactions"), _form_rows(form, lambda _data: form.apply(
        Interaction.objects.filter(account__in=accounts), today=timezone.localdate())
        .select_related("account", "next_step_owner").prefetch_related("stakeholders", "users"))


def _who_to_win(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.accounts.models import Tier
    from keyplan.relationships.services import who_to_win_rows
    from keyplan.relationships.tables import WHO_TO_WIN

    accounts = _visible(user, query)
    if not query.get("account"):
        accounts = accounts.filter(tier=Tier.KEY)  # the boards: key accounts, unless one account is asked for
    return WHO_TO_WIN, who_to_win_rows(accounts)


def _imports(user: User, query) -> tuple[Table, Iterable]:
    from django.core.exceptions import PermissionDenied

    from keyplan.revenue.models import ImportBatch
    from keyplan.revenue.tables import IMPORTS
    from keyplan.revenue.uploads import can_import

    if not can_import(user):
        raise PermissionDenied("Only KAM leads and admins see the import batches.")
    return IMPORTS, ImportBatch.objects.select_related("created_by").order_by("-created_at", "-pk")


def _workload(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.accounts.services import kam_workload
    from keyplan.accounts.tables import WORKLOAD

    return WORKLOAD, kam_workload(user).kams


def _rounds(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.scoring.models import SelectionRound
    from keyplan.scoring.tables import ROUNDS

    return ROUNDS, SelectionRound.objects.select_related("created_by").order_by("-date", "-pk")


def _key_status_reviews(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.scoring.models import Review
    from keyplan.scoring.tables import REVIEWS

    return REVIEWS, Review.objects.select_related("round", "created_by").prefetch_related("decisions")


def _notifications(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.health.services import notifications_of
    from keyplan.health.tables import NOTIFICATIONS

    return NOTIFICATIONS, notifications_of(user)


def _scoring_matrix(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.scoring import services
    from keyplan.scoring.models import Criterion
    from keyplan.scoring.tables import in_chunks, matrix_table

    index, positions = services.matrix_positions(user)
    return matrix_table(list(Criterion.objects.active())), in_chunks(positions, lambda chunk: services.matrix_rows(index, chunk))


def _health(user: User, query) -> tuple[Table, Iterable]:
    from django.db.models import Max

    from keyplan.health.models import HealthSnapshot
    from keyplan.health.tables import HEALTH

    accounts = _visible(user, query)
    day = HealthSnapshot.objects.aggregate(day=Max("day"))["day"]  # the latest daily snapshot
    return HEALTH, (HealthSnapshot.objects.filter(day=day, account__in=accounts).select_related("account")
                    .order_by("score", "account__name", "pk"))


# ---------------------------------------------------------------- the analyses


def _period(user: User, query):
    from keyplan.core.schemas import MAX_YEAR, MIN_YEAR
    from keyplan.revenue import portfolio

    days = {}
    for field in ("from", "to"):
        text = (query.get(field) or "").strip()
        if not text:
            days[field] = None
            continue
        try:
            days[field] = datetime.date.fromisoformat(text)
        except ValueError:
            raise FeedError(field, f"{text[:20]!r} is not a date like 2026-01-31.") from None
        if not MIN_YEAR <= days[field].year <= MAX_YEAR:
            raise FeedError(field, f"The year must be between {MIN_YEAR} and {MAX_YEAR}.")
    if days["from"] and days["to"] and days["to"] < days["from"]:
        raise FeedError("to", "The period ends before it starts.")
    options = portfolio.Options(start=days["from"], end=days["to"])
    try:
        options.period()
    except ValueError as error:
        raise FeedError("from", str(error)) from error
    return portfolio.Scope(user), options


PARETO = Table("pareto", (
    Column(_("Rank"), lambda a: a["rank"]),
    Column(_("Account"), lambda a: a["name"]),
    Column(_("External id"), lambda a: a["external_id"]),
    Column(_("Revenue"), lambda a: a["revenue"]),
    Column(_("Share"), lambda a: a["share"]),
    Column(_("Cumulative share"), lambda a: a["cumulative_share"]),
    Column(_("Vital few"), lambda a: a["vital"]),
))

PROFITABILITY = Table("profitability", (
    Column(_("Account"), lambda a: a["name"]),
    Column(_("External id"), lambda a: a["external_id"]),
    Column(_("Revenue"), lambda a: a["revenue"]),
    Column(_("Cost to serve"), lambda a: a["cost"]),
    Column(_("Margin"), lambda a: a["margin"]),
    Column(_("Margin %"), lambda a: a["margin_pct"]),
    Column(_("Revenue to cost"), lambda a: a["revenue_to_cost"]),
    Column(_("Profit matrix"), lambda a: a["label"]),
))


def _pareto(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.revenue import portfolio

    report = portfolio.pareto_report(*_period(user, query))
    return PARETO, ({**a, "rank": rank, "vital": rank <= report["vital_few"]}
                    for rank, a in enumerate(report["accounts"], start=1))


def _profitability(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.revenue import portfolio

    return PROFITABILITY, portfolio.profitability_report(*_period(user, query))["accounts"]


def _abc(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.revenue import portfolio

    scope, options = _period(user, query)
    report = portfolio.abc_report(scope, options)
    names = dict(scope.accounts().values_list("external_id", "name"))
    columns = [Column(_("External id"), lambda a: a["external_id"]),
               Column(_("Account"), lambda a: names.get(a["external_id"], ""))]
    columns += [Column(year, lambda a, year=year: a["classes"].get(year)) for year in report["years"]]
    return Table("abc", tuple(columns)), report["accounts"]


MRR = Table("mrr", (
    Column(_("Month"), lambda m: m["month"]),
    Column(_("MRR"), lambda m: m["mrr"]),
    Column(_("ARR"), lambda m: m["arr"]),
    Column(_("Accounts"), lambda m: m["accounts"]),
    Column(_("New"), lambda m: m["new"]),
    Column(_("Expansion"), lambda m: m["expansion"]),
    Column(_("Contraction"), lambda m: m["contraction"]),
    Column(_("Churn"), lambda m: m["churn"]),
    Column(_("Reactivation"), lambda m: m["reactivation"]),
))

CLV = Table("clv", (
    Column(_("External id"), lambda a: a["external_id"]),
    Column(_("Account"), lambda a: a.get("name", "")),
    Column(_("Purchases"), lambda a: a["frequency"]),
    Column(_("Recency (weeks)"), lambda a: a["recency"]),
    Column(_("Age (weeks)"), lambda a: a["T"]),
    Column(_("Chance still buying"), lambda a: a["p_alive"]),
    Column(_("Expected purchases"), lambda a: a["expected_purchases"]),
    Column(_("Expected average value"), lambda a: a["expected_average_value"]),
    Column(_("Lifetime value"), lambda a: a["clv"]),
))


def _mrr(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.revenue import portfolio

    scope, options = _period(user, query)
    return MRR, portfolio.mrr_report(scope, options)["months"]


def _named(scope, rows: list[dict]) -> list[dict]:
    names = dict(scope.accounts().values_list("external_id", "name"))
    return [{**row, "name": names.get(row["external_id"], "")} for row in rows]


def _concentration(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.revenue import portfolio

    scope, options = _period(user, query)
    report = portfolio.concentration_report(scope, options)
    rows = _named(scope, report["accounts"])
    years = sorted({year for row in rows for year in row.get("revenue", {})})
    growth = sorted({year for row in rows for year in (row.get("growth") or {})})
    columns = [Column(_("External id"), lambda a: a["external_id"]), Column(_("Account"), lambda a: a["name"])]
    columns += [Column(_("Revenue %(year)s") % {"year": year}, lambda a, year=year: a["revenue"].get(year)) for year in years]
    columns += [Column(_("Growth %(year)s") % {"year": year}, lambda a, year=year: (a.get("growth") or {}).get(year))
                for year in growth]
    return Table("concentration", tuple(columns)), rows


def _clv(user: User, query) -> tuple[Table, Iterable]:
    from keyplan.revenue import portfolio

    scope, options = _period(user, query)
    try:
        report = portfolio.clv_report(scope, options)
    except ValueError as error:  # too few repeat buyers to fit the models, for one
        raise FeedError("from", str(error)) from error
    return CLV, _named(scope, report["accounts"])


FEEDS = {feed.name: feed for feed in (
    Feed("accounts", _("Accounts"), "list", _accounts, "q, tier, industry, country, lifecycle, kam, archived, sort"),
    Feed("account-plans", _("Account plans"), "list", _plans),
    Feed("risk-queue", _("At-risk queue"), "list", _risk_queue),
    Feed("account-reviews", _("Account reviews"), "list", _reviews),
    Feed("stale-relationships", _("Stale relationships"), "list", _stale),
    Feed("stakeholders", _("Stakeholders"), "list", _stakeholders,
         "account, q, department, buying_role, decision_power, sentiment, contact, key_contact, side, owner, archived"),
    Feed("interactions", _("Interactions"), "list", _interactions,
         "account, q, kind, user, date_from, date_to, when, open_steps"),
    Feed("who-to-win", _("Who to win"), "list", _who_to_win, "account"),
    Feed("health", _("Health"), "list", _health, "account"),
    Feed("notifications", _("Notifications"), "list", _notifications),
    Feed("workload", _("Workload"), "list", _workload),
    Feed("selection-rounds", _("Selection rounds"), "list", _rounds),
    Feed("key-status-reviews", _("Reviews of key status"), "list", _key_status_reviews),
    Feed("imports", _("Imports"), "list", _imports),
    Feed("pareto", _("Pareto analysis"), "analysis", _pareto, "from, to"),
    Feed("abc", _("ABC analysis"), "analysis", _abc, "from, to"),
    Feed("profitability", _("Profitability"), "analysis", _profitability, "from, to"),
    Feed("scoring-matrix", _("Scoring matrix"), "analysis", _scoring_matrix),
    Feed("mrr", _("Recurring revenue"), "analysis", _mrr, "from, to"),
    Feed("concentration", _("Concentration"), "analysis", _concentration, "from, to"),
    Feed("clv", _("Lifetime value"), "analysis", _clv, "from, to"),
)}


# ---------------------------------------------------------------- writing


def _json_value(value) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value is not None and not isinstance(value, (bool, int, float, str)):
        value = str(value)
    return safe_cell(value)


def json_chunks(feed: Feed, table: Table, items: Iterable) -> Iterator[str]:
    """``{"feed", "generated_at", "columns", "items": [{…}, …], "count"}``, written a chunk of rows at a time."""
    keys = table.keys()
    head = {"feed": feed.name, "generated_at": timezone.now().isoformat(timespec="seconds"), "columns": keys}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "items": ['
    count, parts = 0, []
    for item in iterate(items):
        row = {key: _json_value(value) for key, value in zip(keys, table.row(item), strict=True)}
        parts.append(("," if count else "") + json.dumps(row, ensure_ascii=False))
        count += 1
        if count % CHUNK_ROWS == 0:
            yield "".join(parts)
            parts.clear()
    yield "".join(parts) + f'], "count": {count}}}'


def response(feed: Feed, user: User, query, fmt: str) -> StreamingHttpResponse:
    """The feed as a streamed CSV or JSON response; raises FeedError for a query it cannot use (before any byte)."""
    with translation.override("en"):  # stable column names: a refresh never breaks a query built on them
        table, items = feed.rows(user, query)

    def chunks() -> Iterator[bytes]:
        with translation.override("en"):
            source = csv_chunks(table, items) if fmt == "csv" else json_chunks(feed, table, items)
            for chunk in source:
                yield chunk.encode("utf-8")

    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    answer = StreamingHttpResponse(chunks(), content_type=content_type)
    answer["Content-Disposition"] = f'inline; filename="keyplan-{feed.name}.{fmt}"'
    answer["Cache-Control"] = "no-store"
    return answer
