"""Health and retention: satisfaction surveys, the health score's settings and daily snapshots,
the at-risk queue with its save plans and outcomes, and the record of account reviews."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from simple_history.models import HistoricalRecords

from keyplan.accounts.models import Account
from keyplan.health import analysis
from keyplan.planning.models import GOAL_TEXTS
from keyplan.relationships.models import Stakeholder
from keyplan.revenue.models import ImportBatch


class SurveyKind(models.TextChoices):
    NPS = "nps", _("NPS (0–10)")
    CSAT = "csat", _("CSAT (1–5)")


class Band(models.TextChoices):
    GREEN = "green", _("Green")
    AMBER = "amber", _("Amber")
    RED = "red", _("Red")


class Cadence(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", pgettext_lazy("cadence", "Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    NONE = "none", _("No reviews")


class Outcome(models.TextChoices):
    SAVED = "saved", _("Saved")
    DOWNGRADED = "downgraded", _("Downgraded")
    CHURNED = "churned", _("Churned")


assert set(analysis.BANDS) == set(Band.values)
assert set(analysis.CADENCE_MONTHS) | {"weekly"} == set(Cadence.values)


class SurveyQuerySet(models.QuerySet):
    def visible_to(self, user) -> "SurveyQuerySet":
        return self.filter(account__in=Account.objects.visible_to(user))


class SurveyResponse(models.Model):
    """One answer to a satisfaction survey: NPS 0–10 or CSAT 1–5, of the account or one of its stakeholders."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="survey_responses")
    stakeholder = models.ForeignKey(Stakeholder, verbose_name=_("stakeholder"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="survey_responses")
    kind = models.CharField(_("survey"), max_length=4, choices=SurveyKind.choices, default=SurveyKind.NPS)
    score = models.PositiveSmallIntegerField(_("score"))
    responded_on = models.DateField(_("answered on"))
    comment = models.TextField(_("comment"), blank=True)
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SurveyQuerySet.as_manager()

    class Meta:
        ordering = ["-responded_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind="nps", score__lte=10) | Q(kind="csat", score__gte=1, score__lte=5),
                                   name="survey_score_in_scale"),
        ]
        indexes = [models.Index(fields=["account", "kind", "responded_on"], name="survey_account_kind_day"),
                   models.Index(fields=["responded_on"], name="survey_day")]

    def __str__(self) -> str:
        return f"{self.account} · {self.kind.upper()} {self.score} ({self.responded_on})"


def _default_weights() -> dict:
    return dict(analysis.DEFAULT_WEIGHTS)


def _default_rules() -> list:
    return list(analysis.DEFAULT_RULES)


def _default_onboarding() -> dict:
    return {tier: [dict(stage, checklist=list(stage["checklist"])) for stage in stages]
            for tier, stages in analysis.DEFAULT_ONBOARDING.items()}


class HealthSettings(models.Model):
    """One row, set by a KAM lead: the score's weights and thresholds, the bands, the endangerment rules
    and the review cadence per key status."""

    weights = models.JSONField(_("weights"), default=_default_weights)
    green_from = models.PositiveSmallIntegerField(_("green from"), default=analysis.GREEN_FROM)
    amber_from = models.PositiveSmallIntegerField(_("amber from"), default=analysis.AMBER_FROM)
    engagement_target = models.PositiveSmallIntegerField(
        _("interactions expected per 90 days"), default=analysis.ENGAGEMENT_TARGET)
    mrr_drop_percent = models.PositiveSmallIntegerField(
        _("MRR drop that costs the whole weight (%)"), default=analysis.MRR_DROP_PERCENT)
    overdue_actions_max = models.PositiveSmallIntegerField(
        _("overdue actions that cost the whole weight"), default=analysis.OVERDUE_ACTIONS_MAX)
    low_engagement = models.PositiveSmallIntegerField(
        _("low engagement: at most this many interactions in 90 days"), default=analysis.LOW_ENGAGEMENT)
    rules = models.JSONField(_("endangerment rules"), default=_default_rules)
    upsell_plan = models.CharField(_("premium plan"), max_length=100, blank=True,
                                   help_text=_("Empty: the plan with the highest monthly amount."))
    upsell_from = models.PositiveSmallIntegerField(_("premium upsell from score"), default=analysis.UPSELL_FROM)
    cadence_key = models.CharField(_("review cadence of key accounts"), max_length=10, blank=True,
                                   choices=Cadence.choices,
                                   help_text=_("Empty: the review cadence of the selection settings."))
    cadence_candidate = models.CharField(_("review cadence of candidates"), max_length=10, choices=Cadence.choices,
                                         default=Cadence.QUARTERLY)
    cadence_standard = models.CharField(_("review cadence of standard accounts"), max_length=10,
                                        choices=Cadence.choices, default=Cadence.NONE)
    checkin_key = models.CharField(_("customer check-ins with key accounts"), max_length=10, choices=Cadence.choices,
                                   default=Cadence.QUARTERLY)
    checkin_candidate = models.CharField(_("customer check-ins with candidates"), max_length=10, choices=Cadence.choices,
                                         default=Cadence.NONE)
    checkin_standard = models.CharField(_("customer check-ins with standard accounts"), max_length=10,
                                        choices=Cadence.choices, default=Cadence.NONE)
    onboarding_templates = models.JSONField(
        _("onboarding templates"), default=_default_onboarding,
        help_text=_("Per key status: the stages a new account goes through (name, days after the start, checklist)."))
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amber_from__lt=models.F("green_from"), green_from__lte=100),
                                   name="health_bands_ordered"),
        ]

    def __str__(self) -> str:
        return "Health settings"


class HealthSnapshot(models.Model):
    """An account's health on one day: the score, its band, each component and the rules that fired."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health_snapshots")
    day = models.DateField()
    score = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=5, choices=Band.choices)
    components = models.JSONField(default=list)
    mrr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    plan = models.CharField(max_length=100, blank=True)
    endangered = models.JSONField(default=list, help_text=_("The endangerment rules that fired."))

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="health_snapshot_unique"),
            models.CheckConstraint(condition=Q(score__lte=100), name="health_score_0_100"),
        ]
        indexes = [models.Index(fields=["day", "band"], name="health_snapshot_day_band")]

    def __str__(self) -> str:
        return f"{self.account} · {self.day}: {self.score}"


class ProgramSnapshot(models.Model):
    """The key-account dashboard's numbers of one day, computed with the accounts' snapshots."""

    day = models.DateField(unique=True)
    numbers = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day"]


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CaseQuerySet":
        return self.filter(account__in=Account.objects.visible_to(user))

    def open(self) -> "CaseQuerySet":
        return self.filter(closed_on__isnull=True)


class RiskCase(models.Model):
    """An endangered account in the at-risk queue: why, who owns the save, and how it ended."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="risk_cases")
    opened_on = models.DateField(_("in the queue since"))
    reason = models.TextField(_("reason"))
    rules = models.JSONField(default=list, blank=True)
    mrr_at_risk = models.DecimalField(_("MRR at risk"), max_digits=16, decimal_places=2, default=0)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="risk_cases")
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    plan_goal = models.ForeignKey("planning.Goal", verbose_name=_("goal in the account plan"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="risk_cases",
                                  help_text=_("The account plan's goal that carries the save plan's actions."))
    created_at = models.DateTimeField(auto_now_add=True)

    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    history = HistoricalRecords(excluded_fields=["created_at", "version"])
    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-mrr_at_risk", "opened_on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=Q(closed_on__isnull=True), name="risk_one_open_case"),
            models.CheckConstraint(condition=Q(closed_on__isnull=True) | ~Q(outcome=""), name="risk_closed_has_outcome"),
            models.CheckConstraint(condition=Q(outcome="") | Q(outcome__in=["saved", "downgraded", "churned"]),
                                   name="risk_outcome_valid"),
        ]
        indexes = [models.Index(fields=["closed_on", "mrr_at_risk"], name="risk_open_mrr")]

    def __str__(self) -> str:
        return f"{self.account} ({self.opened_on})"

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class SaveAction(models.Model):
    """One step of a case's save plan."""

    case = models.ForeignKey(RiskCase, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(_("action"), max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    due = models.DateField(_("due"), null=True, blank=True)
    done_on = models.DateField(_("done on"), null=True, blank=True)
    plan_action = models.OneToOneField("planning.Action", verbose_name=_("action in the account plan"), null=True,
                                       blank=True, on_delete=models.SET_NULL, related_name="save_action")

    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "due", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        """Done here, or its action was marked done in the account plan."""
        return self.done_on is not None or (self.plan_action is not None and self.plan_action.status == "done")


class ReviewQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ReviewQuerySet":
        return self.filter(account__in=Account.objects.visible_to(user))


class AccountReview(models.Model):
    """One internal review of an account, held at the cadence of its key status."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="account_reviews")
    held_on = models.DateField(_("held on"))
    held_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    health_score = models.PositiveSmallIntegerField(_("health score"), null=True, blank=True)
    what_changed = models.TextField(_("what changed"), blank=True)
    plan_progress = models.TextField(_("plan progress"), blank=True)
    risks = models.TextField(_("risks"), blank=True)
    decisions = models.TextField(_("decisions"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["created_at"])
    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["account", "held_on"], name="review_account_day")]

    def __str__(self) -> str:
        return f"{self.account} · {self.held_on}"


class CheckInQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CheckInQuerySet":
        return self.filter(account__in=Account.objects.visible_to(user))


class CustomerCheckIn(models.Model):
    """A recurring feedback meeting with the customer (beside the internal account reviews): who met whom,
    what the customer said, and what we follow up."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="checkins")
    held_on = models.DateField(_("held on"))
    held_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    attendees = models.CharField(_("with"), max_length=300, blank=True, help_text=_("Who took part on the customer's side."))
    feedback = models.TextField(_("the customer's feedback"), blank=True)
    follow_up = models.TextField(_("follow-up"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["created_at"])
    objects = CheckInQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["account", "held_on"], name="checkin_account_day")]

    def __str__(self) -> str:
        return f"{self.account} · {self.held_on}"


class UsageRecord(models.Model):
    """One figure of product usage (logins, API calls, seats …) of an account on a day, imported."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="usage_records")
    day = models.DateField(_("date"))
    metric = models.CharField(_("metric"), max_length=100)
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=4)
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["account", "day", "metric"]
        constraints = [models.UniqueConstraint(fields=["account", "day", "metric"], name="usage_once_a_day")]
        indexes = [models.Index(fields=["day", "account"], name="usage_day_account")]


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Ticket(models.Model):
    """A support ticket of an account, imported: when it was opened and closed, how severe."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tickets")
    ticket_id = models.CharField(_("ticket"), max_length=64, blank=True)
    opened = models.DateField(_("opened"))
    closed = models.DateField(_("closed"), null=True, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["account", "-opened"]
        constraints = [
            models.CheckConstraint(condition=Q(closed__isnull=True) | Q(closed__gte=models.F("opened")), name="ticket_closed_after_opened"),
            models.UniqueConstraint(fields=["account", "ticket_id"], condition=~Q(ticket_id=""), name="ticket_once"),
        ]
        indexes = [models.Index(fields=["account", "severity", "closed"], name="ticket_open_severity")]


class StageQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StageQuerySet":
        return self.filter(account__in=Account.objects.visible_to(user))


class OnboardingStage(models.Model):
    """One stage of an account's onboarding: when it is planned, when it was done, who owns it and its checklist.
    The account's onboarding status is derived from its stages (analysis.onboarding_status)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="onboarding_stages")
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    name = models.CharField(_("stage"), max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    planned = models.DateField(_("planned for"), null=True, blank=True)
    done_on = models.DateField(_("done on"), null=True, blank=True)
    checklist = models.JSONField(_("checklist"), default=list, blank=True,
                                 help_text=_("Items, each with its text and whether it is done."))
    created_at = models.DateTimeField(auto_now_add=True)

    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    history = HistoricalRecords(excluded_fields=["created_at", "version"])
    objects = StageQuerySet.as_manager()

    class Meta:
        ordering = ["account", "position", "pk"]
        indexes = [models.Index(fields=["account", "done_on", "planned"], name="onboarding_account_open")]

    def __str__(self) -> str:
        return f"{self.account} · {self.name}"

    @property
    def label(self) -> str:
        """The name as the reader reads it: a stage named as the default template names it (stored in English)
        reads in the reader's language; a name a person gave, or a template of their own, as written."""
        return template_text(self.name)

    @property
    def items(self) -> list[dict]:
        """The checklist by the same rule as ``label``: [{"item", "done"}]."""
        return [{"item": template_text(i["item"]), "done": i["done"]} for i in self.checklist]


def template_text(text: str) -> str:
    """``text`` in the reader's language when it is the default onboarding template's English text, else as written."""
    from django.utils.translation import gettext

    from keyplan.health.onboarding import TEMPLATE_TEXTS

    return gettext(text) if text in TEMPLATE_TEXTS else text


class Invoice(models.Model):
    """An invoice of an account and when it was paid, imported: how late the customer pays is a health signal."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invoices")
    invoice_id = models.CharField(_("invoice"), max_length=64, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, null=True, blank=True)
    due = models.DateField(_("due"))
    paid = models.DateField(_("paid"), null=True, blank=True)
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["account", "-due"]
        constraints = [models.UniqueConstraint(fields=["account", "invoice_id"], condition=~Q(invoice_id=""), name="invoice_once")]
        indexes = [models.Index(fields=["due", "account"], name="invoice_due_account")]


class NotificationKind(models.TextChoices):
    REVIEW_OVERDUE = "review_overdue", _("Account review overdue")
    ENDANGERED = "endangered", _("Entered the at-risk queue")
    STALE = "stale", _("Stale relationship")
    ACTION_OVERDUE = "action_overdue", _("Plan action overdue")
    CHECKIN_OVERDUE = "checkin_overdue", _("Customer check-in overdue")
    ONBOARDING_OVERDUE = "onboarding_overdue", _("Onboarding stage overdue")


class Notification(models.Model):
    """One thing a user should act on, raised once by `keyplan notify` (its key says what it is about) and
    e-mailed at most once in a digest."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    key = models.CharField(max_length=100, help_text=_("What it is about; the same key is never raised twice."))
    params = models.JSONField(default=dict, help_text=_("The numbers and names its text is made of."))
    url = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_once")]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


# Labels of the rules and components, for the pages (the analysis names them by code).
RULE_LABELS = {
    "red_score": _("The health score is red"),
    "low_engagement_falling_mrr": _("Low engagement together with falling MRR"),
    "critic_high_power": _("A critic with high decision power"),
    "nps_detractor": _("The latest NPS is a detractor's (0–6)"),
    "onboarding_overdue": _("Two or more onboarding stages overdue"),
    "payments_late": _("Invoices paid a month late or more on average"),
}
COMPONENT_LABELS = {
    "satisfaction": _("Satisfaction"),
    "engagement": _("Engagement"),
    "mrr_movement": _("MRR movement"),
    "overdue_actions": _("Overdue plan actions"),
    "decision_makers": _("Decision makers covered"),
    "usage": _("Product usage"),
    "tickets": _("Support tickets"),
    "onboarding": _("Onboarding"),
    "payments": _("Payment delays"),
}
ONBOARDING_LABELS = {
    "none": _("Not started"),
    "in_progress": _("In progress"),
    "overdue": _("Overdue"),
    "done": _("Done"),
}
assert set(RULE_LABELS) == set(analysis.RULES) and set(COMPONENT_LABELS) == set(analysis.DEFAULT_WEIGHTS)
assert set(ONBOARDING_LABELS) == set(analysis.ONBOARDING_STATUSES)


def save_plan_goal(params: dict) -> dict:
    """The account plan's goal that carries a risk case's save plan, in the active language: the case's day in the
    reader's calendar, the endangering rules by name (the reason a person gave when no rule names it)."""
    import datetime

    from django.utils.translation import gettext

    from keyplan.core.dates import format_date

    day = format_date(datetime.date.fromisoformat(params["day"]), "SHORT_DATE_FORMAT")
    rules = [str(RULE_LABELS[c]) for c in params.get("rules", []) if c in RULE_LABELS]
    return {"title": gettext("Keep the account: save plan of the at-risk case of %(day)s") % {"day": day},
            "description": "; ".join(rules) or params.get("reason", "")}


GOAL_TEXTS["save_plan"] = save_plan_goal
