"""Where an account or a stakeholder came from: the CRM (source system), its id there, and the last sync.

Kept beside the record rather than in it: a nightly sync touches ``last_synced_at`` of every record it
sends, which is not a change of the account and must not fill its history.

Written in bulk (a row per record of an import: 500,000 for a large contacts export), they carry no foreign
keys in the database, as the ledger does not (``keyplan.revenue.models.NO_DB_FK``): PostgreSQL checks each
with a trigger per row, which took a third of such an import's time on the server. The import writes them only
for the records it has just written or read; Django still applies ``on_delete``. Nothing looks them up by
batch, so that column has no index.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from keyplan.accounts.models import Account
from keyplan.relationships.models import Stakeholder
from keyplan.revenue.models import NO_DB_FK


class AccountSource(models.Model):
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="source", **NO_DB_FK)
    system = models.CharField(_("source system"), max_length=40)
    last_synced_at = models.DateTimeField(_("last synced"))
    batch = models.ForeignKey("revenue.ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False, **NO_DB_FK)

    def __str__(self) -> str:
        return f"{self.account.external_id} from {self.system}"


class StakeholderSource(models.Model):
    stakeholder = models.OneToOneField(Stakeholder, on_delete=models.CASCADE, related_name="source", **NO_DB_FK)
    system = models.CharField(_("source system"), max_length=40)
    source_id = models.CharField(_("id in the source system"), max_length=64, blank=True)
    last_synced_at = models.DateTimeField(_("last synced"))
    batch = models.ForeignKey("revenue.ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False, **NO_DB_FK)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "source_id"], condition=~Q(source_id=""), name="stakeholder_source_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id or self.stakeholder_id} from {self.system}"


class CalendarEvent(models.Model):
    """A calendar event logged as an interaction: its UID and SEQUENCE, so that a calendar imported again
    changes nothing and a rescheduled event (a higher sequence) updates its interaction."""

    uid = models.CharField(max_length=255, unique=True)
    sequence = models.PositiveIntegerField(default=0)
    interaction = models.OneToOneField("relationships.Interaction", on_delete=models.CASCADE, related_name="calendar_event")
    batch = models.ForeignKey("revenue.ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"{self.uid} ({self.sequence})"


class MailThread(models.Model):
    """An e-mail thread logged as one interaction: its first message's id, so that a mailbox imported again
    (or a later export with more replies) logs nothing twice."""

    thread_id = models.CharField(max_length=255)
    interaction = models.ForeignKey("relationships.Interaction", on_delete=models.CASCADE, related_name="mail_threads")
    batch = models.ForeignKey("revenue.ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread_id", "interaction"], name="mail_thread_unique")]
        indexes = [models.Index(fields=["thread_id"])]

    def __str__(self) -> str:
        return self.thread_id
