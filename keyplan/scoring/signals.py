"""When the data behind a computed criterion changes, its scores are recomputed.

The areas below and beside the selection (accounts, revenue imports, relationships) do not know
about scores, so the selection listens for their saves. Each receiver only says what changed;
what follows is ``services.recompute_scores``:

- a stakeholder or an interaction saved or deleted: that account's stakeholder coverage, at once,
  in the same transaction (one account, a few queries);
- an account's "referred by" changed: the referral scores of the old and the new referrer, at once;
- an import finished or rolled back: revenue trend, margin and lifetime value of the whole
  portfolio, by the background worker once the import has committed.

Writes that bypass saves (bulk loads of the demo) are caught by ``services.stale_criteria()``:
a round recomputes whatever is older than its data before it freezes the scores.
"""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from keyplan.accounts.models import Account
from keyplan.scoring import services
from keyplan.scoring.models import Criterion, CriterionSource


def _active(*sources: str) -> bool:
    return Criterion.objects.active().filter(source__in=sources).exists()


def stakeholders_changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw") or not _active(CriterionSource.STAKEHOLDER_COVERAGE):
        return
    account_id = instance.account_id
    if Account.objects.filter(pk=account_id).exists():  # not when the account itself is being deleted
        services.recompute_scores(sources=[CriterionSource.STAKEHOLDER_COVERAGE], account_ids=[account_id])


def interaction_people_changed(sender, instance, action, **kwargs) -> None:
    # An interaction's stakeholders are set after it is saved; contact strength counts them.
    if action in ("post_add", "post_remove", "post_clear") and hasattr(instance, "account_id"):
        stakeholders_changed(sender, instance)


def remember_referrer(sender, instance, **kwargs) -> None:
    instance._referrer_before = (
        Account.objects.filter(pk=instance.pk).values_list("referred_by_id", flat=True).first() if instance.pk else None)


def referrer_changed(sender, instance, created, **kwargs) -> None:
    before = getattr(instance, "_referrer_before", None)
    if kwargs.get("raw") or before == instance.referred_by_id:
        return
    if _active(CriterionSource.REFERRALS):
        referrers = {pk for pk in (before, instance.referred_by_id) if pk is not None}
        services.recompute_scores(sources=[CriterionSource.REFERRALS], account_ids=referrers)


def import_finished(sender, instance, **kwargs) -> None:
    from keyplan.revenue.models import BatchStatus

    if instance.status not in (BatchStatus.DONE, BatchStatus.ROLLED_BACK) or not _active(*services.REVENUE_SOURCES):
        return
    from keyplan.scoring.tasks import recompute_scores

    sources = [str(s) for s in services.REVENUE_SOURCES]
    transaction.on_commit(lambda: recompute_scores.enqueue(sources=sources))


def connect() -> None:
    from keyplan.revenue.models import ImportBatch

    pre_save.connect(remember_referrer, sender=Account, dispatch_uid="scoring.remember_referrer")
    post_save.connect(referrer_changed, sender=Account, dispatch_uid="scoring.referrer_changed")
    post_save.connect(import_finished, sender=ImportBatch, dispatch_uid="scoring.import_finished")
    try:
        from keyplan.relationships.models import Interaction, Stakeholder
    except ImportError:  # the relationships area is not installed
        return
    for model in (Stakeholder, Interaction):
        post_save.connect(stakeholders_changed, sender=model, dispatch_uid=f"scoring.coverage.{model.__name__}.save")
        post_delete.connect(stakeholders_changed, sender=model, dispatch_uid=f"scoring.coverage.{model.__name__}.delete")
    m2m_changed.connect(interaction_people_changed, sender=Interaction.stakeholders.through,
                        dispatch_uid="scoring.coverage.Interaction.stakeholders")
