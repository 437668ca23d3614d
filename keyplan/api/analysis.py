"""/api/v1/analysis/NAME: the portfolio analyses, the same payloads as `keyplan analyze NAME --json`."""

import datetime
from typing import Any

from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError as SchemaValidationError

from keyplan.accounts.models import Tier
from keyplan.core.schemas import choice
from keyplan.revenue import portfolio

router = Router(tags=["analysis"])
ANALYSES = ("pareto", "abc", "mrr", "profitability", "concentration", "clv")


class AnalysisQuery(Schema):
    from_: datetime.date | None = Field(None, alias="from", description="First day of the period (default: the last 12 months that have data)")
    to: datetime.date | None = Field(None, description="Last day of the period (default: the ledger's last day)")
    threshold: float = Field(0.8, gt=0, le=1, description="Pareto: share of revenue the vital few reach")
    a_threshold: float = Field(0.8, gt=0, le=1, description="ABC: cumulative share limit of class A")
    b_threshold: float = Field(0.95, gt=0, le=1, description="ABC: cumulative share limit of class B")
    years: int = Field(3, ge=1, le=20, description="ABC and concentration: calendar years up to the ledger's last")
    top: int = Field(10, ge=1, le=1000, description="Concentration: share of the top N accounts")
    as_of: datetime.date | None = Field(None, description="CLV: the day the models stand on (default: the ledger's last day; not after today)")
    horizon_months: int = Field(12, ge=1, le=120, description="CLV horizon in months")
    discount_rate: float = Field(0.10, ge=0, le=1, description="CLV: yearly discount rate")
    industry: str = ""
    country: str = ""
    tier: choice(Tier, blank=True) = Field("", description="key, candidate or standard; empty: every tier")
    kam: int | None = Field(None, description="User id of a key account manager")


@router.get("/{name}", url_name="analysis", response=dict[str, Any], summary="A portfolio analysis: pareto, abc, mrr, profitability, concentration or clv")
def analysis(request, name: choice(ANALYSES), query: Query[AnalysisQuery]):
    scope = portfolio.Scope(request.user, industry=query.industry, country=query.country.upper(), tier=query.tier, kam=query.kam)
    options = portfolio.Options(
        start=query.from_, end=query.to, threshold=query.threshold, thresholds=(query.a_threshold, query.b_threshold),
        years=query.years, top=query.top, as_of=query.as_of, horizon_months=query.horizon_months,
        discount_rate=query.discount_rate,
    )
    if query.as_of is not None:
        from keyplan.revenue.lifetime_value import check_as_of

        try:
            check_as_of(query.as_of)
        except ValueError as error:
            raise SchemaValidationError([{"loc": ["query", "as_of"], "msg": str(error), "type": "value_error"}]) from error
    try:
        return portfolio.run(name, scope, options)
    except ValueError as error:
        raise SchemaValidationError([{"loc": ["query"], "msg": str(error), "type": "value_error"}]) from error
