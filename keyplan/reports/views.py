"""Downloads: the portfolio workbook (the period and filters of the portfolio page the button sits on) and an
account's review deck (the button on the account page)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from keyplan.accounts.models import Account
from keyplan.reports import deck, deck_data, workbook
from keyplan.reports.deck_template import TemplateError
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


@require_GET
def account_deck(request: HttpRequest, pk: int) -> HttpResponse:
    """/reports/accounts/ID/deck.pptx: the account's review deck in the reader's language (404 outside their reach)."""
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    data = deck_data.gather(account, user=request.user)
    try:
        content = deck.build_bytes(data)
    except TemplateError as error:  # the server's configuration, not the reader's doing: say what to fix
        return HttpResponse(_("The review deck was not made:") + "\n" + str(error), status=503,
                            content_type="text/plain; charset=utf-8")
    return deck.download(content, data)
