"""The revenue ledger, its import batches, rollups, subscriptions and exchange rates.

Pages read the monthly rollups, never the raw ledger. The ledger is written by
imports, read to undo them, and read by the purchase model behind lifetime value,
which needs every purchase day (an analysis run, not a page).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from keyplan.accounts.models import Account, validate_currency


class ImportKind(models.TextChoices):
    LEDGER = "ledger", _("Revenue ledger")
    SUBSCRIPTIONS = "subscriptions", _("Subscriptions")
    RATES = "rates", _("Exchange rates")
    SURVEYS = "surveys", _("Satisfaction surveys")
    USAGE = "usage", _("Product usage")
    TICKETS = "tickets", _("Support tickets")
    PAYMENTS = "payments", _("Invoices and payments")
    ACCOUNTS = "accounts", _("Accounts")
    STAKEHOLDERS = "stakeholders", _("Contacts (stakeholders)")
    INTERACTIONS = "interactions", _("Activities (interactions)")
    CALENDAR = "calendar", _("Calendar (.ics)")
    MAIL = "mail", _("E-mail (.eml, .mbox)")


class BatchStatus(models.TextChoices):
    VALIDATING = "validating", _("Validating")
    REJECTED = "rejected", pgettext_lazy("import status", "Rejected")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")
    BROKEN_OFF = "broken_off", _("Broken off")
    ROLLED_BACK = "rolled_back", _("Rolled back")


class ImportBatch(models.Model):
    """One import of one file: listed, reported on, and undone as a whole."""

    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.VALIDATING)
    options = models.JSONField(default=dict, help_text=_("Column mapping and parsing options used."))
    rows_total = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    accounts_created = models.PositiveIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0)
    report = models.JSONField(default=dict, help_text=_("Errors by line, column and reason; totals."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rolled_back_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    # The worker that runs the import: when it is gone before the batch is done, the next worker to start
    # discards what the batch wrote (keyplan.revenue.tasks.recover_broken_imports).
    worker = models.ForeignKey("core.WorkerProcess", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name} ({self.get_status_display()})"


# The ledger and the tables computed from it are written in bulk (millions of rows per import)
# and carry no foreign keys in the database: PostgreSQL checks each one with a trigger per
# row, which made an import three times slower. The import checks every account and batch
# before it writes, and Django still applies on_delete when an account or batch is deleted.
# Their account columns have no index of their own either: each table's unique constraint
# starts with the account, which serves every lookup by account, and a second index on the
# column made PostgreSQL's COPY of a first import's 3.6 million monthly rollups 14 % slower.
NO_DB_FK = {"db_constraint": False}


class LedgerLine(models.Model):
    """One revenue line as exported by the ERP, billing system or CRM."""

    # Not indexed: only undoing a batch looks its lines up (a scan, seconds at 10M lines), while the
    # index cost every import about 10 % of its writing time.
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="lines", db_index=False, **NO_DB_FK)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False, **NO_DB_FK)
    date = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    amount_reporting = models.DecimalField(max_digits=18, decimal_places=2)
    cost = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    cost_reporting = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    product = models.CharField(max_length=100, blank=True)
    division = models.CharField(max_length=100, blank=True)
    invoice_id = models.CharField(max_length=64, blank=True)
    line_id = models.CharField(max_length=128, null=True)
    # Importing the same lines again finds them by this one integer key: the line's day, then a hash of
    # the line id or (for exports without line ids) of the row's content and its occurrence in the
    # file (`keyplan.revenue.ledger_keys`). The import compares line ids where a key is found, so a
    # hash collision is reported, never taken for a duplicate. It is the primary key: a separate id
    # column would cost a sequence and a second index per line (PostgreSQL's COPY ran at 181,000
    # rows/s with them and 300,000 without). Its day also makes it the ledger's date index: the
    # lines of any run of days are a range of keys.
    dedupe_key = models.BigIntegerField(primary_key=True)


class RollupSums(models.Model):
    """What a rollup adds up per account and period (in the reporting currency)."""

    revenue = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    cost = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    lines = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class MonthlyRollup(RollupSums):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="monthly_revenue", db_index=False, **NO_DB_FK)
    month = models.DateField(help_text=_("First day of the month."))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="rollup_month_unique")]
        # No index holds the sums, and on PostgreSQL each page keeps 40 % free (fill factor 60, migration 0020):
        # imports and rollbacks update these rows in place, and an update that changes no indexed column and
        # finds room in its page is HOT (no new index entries). 411,000 upserts into 2.2M rows took 2.1-2.3 s
        # against 6.1-7.0 s with the index covering (INCLUDE revenue, cost); period sums read as fast.
        indexes = [models.Index(fields=["month", "account"], name="rollup_month_account")]


class YearlyRollup(RollupSums):
    """The monthly rollups added up per calendar year: ABC over years and long periods read 12× fewer rows."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="yearly_revenue", db_index=False, **NO_DB_FK)
    year = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "year"], name="rollup_year_unique")]
        indexes = [models.Index(fields=["year", "account"], name="rollup_year_account")]  # not covering: see MonthlyRollup


class ProductRollup(RollupSums):
    """What an account bought of each product line in each division (buying center), per calendar year.

    From the ledger lines that name both a product and a division: the whitespace map of an account
    plan shows these cells as in use, with their revenue. Kept at import and rollback like the others.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="product_revenue", db_index=False, **NO_DB_FK)
    year = models.PositiveSmallIntegerField()
    division = models.CharField(max_length=100)
    product = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "year", "division", "product"], name="rollup_product_unique")]
        # Fill factor 60 on PostgreSQL, as the other rollups (migration 0020): room in each page for HOT updates.


class ExchangeRate(models.Model):
    """How much one unit of ``currency`` is worth in the reporting currency from ``date`` on."""

    date = models.DateField()
    currency = models.CharField(max_length=3, validators=[validate_currency])
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["currency", "date"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="rate_unique"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="rate_positive"),
        ]


class Subscription(models.Model):
    """A recurring plan of an account (Basic, Standard, Premium …): the source of MRR and ARR."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="subscriptions")
    plan = models.CharField(_("plan"), max_length=100)
    monthly_amount = models.DecimalField(_("monthly amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    start = models.DateField(_("start"))
    end = models.DateField(_("end"), null=True, blank=True, help_text=_("Empty while the subscription runs."))
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        ordering = ["account", "start", "plan"]
        constraints = [
            models.CheckConstraint(condition=models.Q(monthly_amount__gte=0), name="subscription_amount_not_negative"),
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gt=models.F("start")), name="subscription_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan} ({self.account})"


class AbcClass(models.Model):
    """An account's ABC class in a calendar year, across the whole portfolio.

    Refreshed after every import and rollback so the account page can show its class
    per year without ranking 100,000 accounts on each view. Only A and B are stored:
    an account without a row in a covered year is C.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="abc_classes", db_index=False, **NO_DB_FK)
    year = models.PositiveSmallIntegerField()
    abc_class = models.CharField(max_length=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "year"], name="abc_class_unique")]
        ordering = ["year"]


class AbcCoverage(models.Model):
    """The calendar years the stored ABC classes cover (one row)."""

    first_year = models.PositiveSmallIntegerField()
    last_year = models.PositiveSmallIntegerField()

    @classmethod
    def years(cls) -> list[int]:
        row = cls.objects.first()
        return list(range(row.first_year, row.last_year + 1)) if row else []


class ImportMapping(models.Model):
    """A person's own column mapping for one kind of file, saved by name and chosen again like a CRM preset
    (keyplan.revenue.mappings)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_mappings")
    kind = models.CharField(max_length=16)  # an import kind, also those only the command line imports (credit-ratings …)
    name = models.CharField(_("name"), max_length=60)
    columns = models.JSONField(default=list, help_text=_("[column, field] pairs; an empty field ignores the column."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["user", "kind", "name"], name="import_mapping_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def mapping(self) -> dict[str, str]:
        return {column: field for column, field in self.columns}
