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


FEEDS = {feed.name: feed for feed in (
    Feed("accounts", _("Accounts"), "list", _accounts, "q, tier, industry, country, lifecycle, kam, archived, sort"),
    Feed("account-plans", _("Account plans"), "list", _plans),
    Feed("risk-queue", _("At-risk queue"), "list", _risk_queue),
    Feed("account-reviews", _("Account reviews"), "list", _reviews),
    Feed("stale-relationships", _("Stale relationships"), "list", _stale),
    Feed("pareto", _("Pareto analysis"), "analysis", _pareto, "from, to"),
    Feed("abc", _("ABC analysis"), "analysis", _abc, "from, to"),
    Feed("profitability", _("Profitability"), "analysis", _profitability, "from, to"),
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
