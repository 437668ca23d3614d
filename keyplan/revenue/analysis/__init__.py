"""Portfolio analyses over revenue tables: Pareto, ABC classes, recurring revenue,
profitability, concentration and customer lifetime value.

Pure functions: Polars frames in, plain JSON-ready dicts and lists out, no
Django and no database. The web pages, the API (`/api/v1/analysis/NAME`) and
`keyplan analyze NAME --json` serve these results as they are.

Conventions shared by every analysis here:

- Money is summed in whole cents (amounts are rounded to the cent on the way
  in), so sums are exact and a share that is exactly 80 % counts as 80 %.
  Money goes out as floats with 2 decimals, shares and ratios with 6.
- A share is of the *positive* revenue: an account whose net revenue is zero or
  negative (credit notes larger than sales) has share 0 and sorts last.
- Accounts are ranked by revenue descending, ties by `external_id` ascending.
- A null amount counts as 0; NaN or infinite amounts and missing key values are
  refused with a `ValueError` naming the column and the row.
- Labels are English; the web layer translates them.

One module per analysis, in the order a portfolio page shows them; `common`
holds the input checks and money helpers they all share.
"""

from keyplan.revenue.analysis.abc import abc_class_table, abc_classes, abc_counts
from keyplan.revenue.analysis.common import MIN_REPEAT_CUSTOMERS
from keyplan.revenue.analysis.concentration import concentration
from keyplan.revenue.analysis.pareto import pareto, pareto_chart_series, pareto_summary
from keyplan.revenue.analysis.profitability import profitability, profitability_summary
from keyplan.revenue.analysis.recurring import recurring_revenue

# Lifetime value needs SciPy, which takes longer to load than everything else here together: its
# names are looked up in `lifetime_value` when first used, so that Pareto or ABC never load it.
LIFETIME_VALUE = (
    "clv_table",
    "expected_average_value",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "observed_monthly_churn_rate",
    "p_alive",
    "rfm_summary",
    "subscription_clv",
    "transactional_clv",
)


def __getattr__(name: str):
    if name in LIFETIME_VALUE:
        from keyplan.revenue.analysis import lifetime_value

        return getattr(lifetime_value, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MIN_REPEAT_CUSTOMERS",
    "abc_class_table",
    "abc_classes",
    "abc_counts",
    "clv_table",
    "concentration",
    "expected_average_value",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "observed_monthly_churn_rate",
    "p_alive",
    "pareto",
    "pareto_chart_series",
    "pareto_summary",
    "profitability",
    "profitability_summary",
    "recurring_revenue",
    "rfm_summary",
    "subscription_clv",
    "transactional_clv",
]
