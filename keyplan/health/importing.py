"""Surveys, product usage, support tickets and payments uploaded in the browser (or POST /api/v1/imports/): what
the revenue area's upload, preview and background task need of each kind (registered in ``apps.py``). The files
are read and checked by the same functions as ``keyplan import``: all rows or none, a report per bad row (line,
column, reason), duplicates skipped, a batch a rollback undoes."""

from django.utils.translation import gettext_lazy as _

from keyplan.health import services

LABELS = {
    "account_id": _("Account id"), "kind": _("Survey (nps or csat)"), "score": _("Score"), "date": _("Date"),
    "stakeholder": _("Stakeholder (name or e-mail)"), "comment": _("Comment"), "metric": _("Metric"), "value": _("Value"),
    "ticket_id": _("Ticket id"), "opened": _("Opened"), "closed": _("Closed"), "severity": _("Severity"),
    "invoice_id": _("Invoice id"), "due": _("Due"), "paid": _("Paid"), "amount": _("Amount"),
}


class _Kind:
    def __init__(self, fields: dict, required: tuple, dates: tuple, numbers: tuple, function):
        self.fields, self.required, self.dates, self.numbers, self.function = fields, required, dates, numbers, function

    @property
    def spec(self):
        from keyplan.revenue.uploads import KindSpec

        return KindSpec(tuple(self.fields), self.required, self.dates, self.numbers, self.fields,
                        {name: LABELS[name] for name in self.fields})

    def run(self, path, *, by, options, batch):
        return self.function(path, by=by, options=options, batch=batch)


SURVEYS = _Kind(services.SURVEY_FIELDS, ("account_id", "score", "date"), ("date",), ("score",), services.import_surveys)
USAGE = _Kind(services.USAGE_FIELDS, ("account_id", "date", "metric", "value"), ("date",), ("value",), services.import_usage)
TICKETS = _Kind(services.TICKET_FIELDS, ("account_id", "opened", "severity"), ("opened", "closed"), (), services.import_tickets)
PAYMENTS = _Kind(services.PAYMENT_FIELDS, ("account_id", "due"), ("due", "paid"), ("amount",), services.import_payments)
