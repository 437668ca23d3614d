"""The revenue app's writes: imports of ledgers, exchange rates and subscriptions, their rollback,
and subscriptions entered by hand.

The import pipeline lives in `keyplan.revenue.importing`, one module per stage in the order a
ledger line travels (inspection → validate → write, driven by ledger; batch keeps the batch's
record; rollback undoes one); this module is the door the pages, the API and the CLI go through.
"""


import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from keyplan.accounts.models import Account
from keyplan.accounts.services import can_edit
from keyplan.core.models import User
from keyplan.core.versions import bump, check_version
from keyplan.revenue.importing.inspection import (  # noqa: F401 (the app's public import API)
    REASONS,
    ImportResult,
    Inspection,
    LedgerOptions,
    RowError,
    can_import,
    inspect_ledger,
    reporting_currency,
)
from keyplan.revenue.importing.ledger import import_ledger  # noqa: F401
from keyplan.revenue.importing.rollback import discard_broken_off, rollback_batch  # noqa: F401
from keyplan.revenue.importing.small import (  # noqa: F401
    RATE_FIELDS,
    SUBSCRIPTION_FIELDS,
    SmallImportOptions,
    import_rates,
    import_subscriptions,
)
from keyplan.revenue.models import (
    Subscription,
)


@transaction.atomic
def add_subscription(account: Account, *, by: User, plan: str, monthly_amount, currency: str, start: datetime.date,
                     end: datetime.date | None = None) -> Subscription:
    """A subscription entered on the account page."""
    if not can_edit(by, account):
        raise PermissionDenied("You may not change this account.")
    subscription = Subscription(account=account, plan=(plan or "").strip(), monthly_amount=monthly_amount,
                                currency=(currency or account.reporting_currency).upper(), start=start, end=end)
    if end is not None and start is not None and end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    if Subscription.objects.filter(account=account, plan=subscription.plan, start=start).exists():
        # An import would merge these into one line; entered by hand they would count twice.
        raise ValidationError({"plan": f"{account.name} already has a {subscription.plan} subscription starting {start}."})
    subscription.full_clean()
    subscription._history_user = by
    subscription.save()
    return subscription


@transaction.atomic
def end_subscription(subscription: Subscription, *, by: User, end: datetime.date, version: int | None = None) -> Subscription:
    if not can_edit(by, subscription.account):
        raise PermissionDenied("You may not change this account.")
    subscription = Subscription.objects.select_for_update().select_related("account").get(pk=subscription.pk)
    check_version(subscription, version)
    if end <= subscription.start:
        raise ValidationError({"end": "The end must be after the start."})
    subscription.end = end
    bump(subscription)
    subscription._history_user = by
    subscription.save(update_fields=["end", "version"])
    return subscription
