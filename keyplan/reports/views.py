"""The portfolio workbook's download: the period and filters of the portfolio page the button sits on."""

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from keyplan.reports import workbook
from keyplan.revenue.filters import PortfolioFilter


@require_GET
def portfolio_workbook(request: HttpRequest) -> HttpResponse:
    """/reports/workbook.xlsx?date_from=…&industry=…: what the user may see, as the portfolio pages show it."""
    form = PortfolioFilter(request.GET or None)
    if form.is_bound and not form.is_valid():
        problems = [f"{form.fields[name].label if name in form.fields else name}: {message}"
                    for name, messages in form.errors.items() for message in messages]
        return _refused(_("The workbook was not made:") + "\n" + "\n".join(problems))
    options = form.options()
    try:
        period = options.period()
        content = workbook.build_bytes(form.scope(request.user), options)
    except ValueError as error:
        return _refused(_("The workbook was not made:") + "\n" + str(error))
    return workbook.download(content, period)


def _refused(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
