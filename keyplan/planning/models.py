"""Account plans: one per key account and period, its sections, goals and the actions under them.

Every resource a person edits carries an integer ``version``: a write names the version it
read, and a stale one is refused (services.Conflict) instead of overwriting someone else's
change. History (django-simple-history) keeps every earlier state; a section can be restored.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from keyplan.accounts.models import Account, TeamMember
from keyplan.planning import analysis
from keyplan.relationships.models import Stakeholder


class PlanState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", pgettext_lazy("plan state", "Active")
    ARCHIVED = "archived", pgettext_lazy("plan state", "Archived")


class SectionKey(models.TextChoices):
    RELATIONSHIPS = "relationships", _("Relationships")
    BUSINESS = "business", _("The customer's business")
    SWOT = "swot", _("SWOT analysis")
    VALUE = "value", _("Account value")


class Horizon(models.TextChoices):
    SHORT = "short", _("Short term")
    MID = "mid", _("Mid term")
    LONG = "long", _("Long term")


class GoalStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("goal status", "Open")
    ON_TRACK = "on_track", _("On track")
    AT_RISK = "at_risk", _("At risk")
    ACHIEVED = "achieved", _("Achieved")
    DROPPED = "dropped", _("Dropped")


class ActionStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    BLOCKED = "blocked", _("Blocked")
    DONE = "done", _("Done")
    DROPPED = "dropped", _("Dropped")


class Metric(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    REVENUE = "revenue_12m", _("Revenue, last 12 months")
    DECISION_MAKERS = "decision_makers_covered", _("Decision makers covered")
    SHARE_OF_WALLET = "share_of_wallet", _("Share of wallet (%)")


assert set(analysis.SECTIONS) == set(SectionKey.values)  # one list of sections, two places: keep them in step
assert set(analysis.CLOSED_GOAL) <= set(GoalStatus.values) and set(analysis.CLOSED_ACTION) <= set(ActionStatus.values)


class PlanQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PlanQuerySet":
        """Plans of the accounts ``user`` may see: the account's reach is the plan's."""
        return self.filter(account__in=Account.objects.visible_to(user))


class AccountPlan(models.Model):
    """The plan of one key account for one period (e.g. FY2027)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="plans")
    period = models.CharField(_("period"), max_length=20, help_text=_("For example FY2027."))
    starts = models.DateField(_("starts"))
    ends = models.DateField(_("ends"))
    state = models.CharField(_("state"), max_length=10, choices=PlanState.choices, default=PlanState.DRAFT)
    summary = models.TextField(_("summary"), blank=True, help_text=_("Your one-paragraph view of the account."))
    reviewed_at = models.DateField(_("last reviewed"), null=True, blank=True)
    wallet = models.DecimalField(_("customer's wallet"), max_digits=16, decimal_places=2, null=True, blank=True,
                                 help_text=_("The customer's estimated yearly spend in our categories, with us and "
                                             "others; share of wallet is our revenue of the last 12 months over it."))
    copied_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("copied from"))
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at", "copied_from", "created_by"])
    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["account", "-starts", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["account", "period"], name="plan_period_unique"),
            models.UniqueConstraint(fields=["account"], condition=Q(state="active"), name="plan_one_active"),
            models.CheckConstraint(condition=Q(ends__gte=F("starts")), name="plan_ends_after_start"),
            models.CheckConstraint(condition=Q(state__in=PlanState.values), name="plan_state_valid"),
            models.CheckConstraint(condition=Q(wallet__isnull=True) | Q(wallet__gt=0), name="plan_wallet_positive"),
        ]
        indexes = [models.Index(fields=["state", "account"])]

    def __str__(self) -> str:
        return f"{self.account} · {self.period}"

    @property
    def is_archived(self) -> bool:
        return self.state == PlanState.ARCHIVED


class PlanSection(models.Model):
    """One written section of a plan; its content is a dict of texts and lists (analysis.SECTIONS)."""

    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="sections")
    key = models.CharField(_("section"), max_length=20, choices=SectionKey.choices)
    content = models.JSONField(_("content"), default=dict)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["plan", "key"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="plan_section_unique"),
            models.CheckConstraint(condition=Q(key__in=SectionKey.values), name="plan_section_key_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} · {self.get_key_display()}"


# Goals Keyplan writes itself (a risk case's save plan), by code: each renders {"title", "description"} from its
# parameters in the active language (health registers "save_plan"). A goal a person wrote is kept as written.
GOAL_TEXTS: dict = {}
GOAL_TEXT_LIMITS = {"title": 200, "description": 2000}


def written_by_keyplan(code: str, params: dict) -> dict[str, str]:
    """The goal texts of ``code`` in English, as they are stored (for programs and the API)."""
    from django.utils import translation

    with translation.override("en"):
        return {k: str(v)[:GOAL_TEXT_LIMITS[k]] for k, v in GOAL_TEXTS[code](params).items()}


class Goal(models.Model):
    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="goals")
    title = models.CharField(_("goal"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    horizon = models.CharField(_("horizon"), max_length=10, choices=Horizon.choices, default=Horizon.SHORT)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="plan_goals")
    metric = models.CharField(_("measured by"), max_length=30, choices=Metric.choices, default=Metric.MANUAL)
    target_value = models.DecimalField(_("target value"), max_digits=18, decimal_places=2, null=True, blank=True)
    current_value = models.DecimalField(_("current value"), max_digits=18, decimal_places=2, null=True, blank=True,
                                        help_text=_("For goals measured by hand; computed ones are measured by Keyplan."))
    due = models.DateField(_("due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=GoalStatus.choices, default=GoalStatus.OPEN)
    carried_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Set when Keyplan wrote the goal (save_plan): its texts are read from text_params in the reader's language
    # until someone edits them.
    text_code = models.CharField(max_length=32, blank=True, default="")
    text_params = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["created_at", "carried_from"])

    class Meta:
        ordering = ["plan", "horizon", "due", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(horizon__in=Horizon.values), name="goal_horizon_valid"),
            models.CheckConstraint(condition=Q(status__in=GoalStatus.values), name="goal_status_valid"),
            models.CheckConstraint(condition=Q(metric__in=Metric.values), name="goal_metric_valid"),
        ]

    def __str__(self) -> str:
        return self.label

    def _text(self, field: str) -> str:
        stored = getattr(self, field)
        if self.text_code not in GOAL_TEXTS:
            return stored
        if stored != written_by_keyplan(self.text_code, self.text_params)[field]:
            return stored  # edited since: the person's words
        return str(GOAL_TEXTS[self.text_code](self.text_params)[field])[:GOAL_TEXT_LIMITS[field]]

    @property
    def label(self) -> str:
        """The title as the reader reads it: one Keyplan wrote (and nobody changed) in the reader's language."""
        return self._text("title")

    @property
    def explanation(self) -> str:
        """The description, by the same rule as ``label``."""
        return self._text("description")


class Action(models.Model):
    """A step of the strategy under a goal; may point to the stakeholder it works on."""

    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="actions")
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="actions", verbose_name=_("goal"))
    title = models.CharField(_("action"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="plan_actions")
    start = models.DateField(_("start"), null=True, blank=True)
    due = models.DateField(_("due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=ActionStatus.choices, default=ActionStatus.NOT_STARTED)
    milestone = models.BooleanField(_("milestone"), default=False)
    stakeholder = models.ForeignKey(Stakeholder, verbose_name=_("stakeholder"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="plan_actions")
    opportunity = models.ForeignKey("Opportunity", verbose_name=_("opportunity"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="actions")
    depends_on = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="dependents",
                                        verbose_name=_("depends on"))
    carried_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["created_at", "carried_from"], m2m_fields=[depends_on])

    class Meta:
        ordering = ["goal", "start", "due", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(due__isnull=True) | Q(start__isnull=True) | Q(due__gte=F("start")),
                                   name="action_due_after_start"),
            models.CheckConstraint(condition=Q(status__in=ActionStatus.values), name="action_status_valid"),
        ]
        indexes = [models.Index(fields=["plan", "status"])]

    def __str__(self) -> str:
        return self.title


class OpportunityKind(models.TextChoices):
    CROSS_SELL = "cross_sell", _("Cross-selling")
    UPSELL = "upsell", _("Upselling")
    NEW_BUSINESS = "new_business", _("New business")


class Stage(models.TextChoices):
    QUALIFY = "qualify", _("Qualify")
    DEVELOP = "develop", pgettext_lazy("opportunity stage", "Develop")
    PROPOSE = "propose", _("Propose")
    NEGOTIATE = "negotiate", _("Negotiate")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class OpportunityQuerySet(models.QuerySet):
    def visible_to(self, user) -> "OpportunityQuerySet":
        return self.filter(account__in=Account.objects.visible_to(user))

    def open(self) -> "OpportunityQuerySet":
        return self.exclude(stage__in=analysis.CLOSED_STAGES)


class Opportunity(models.Model):
    """A chance to sell more to the account: in a division (buying center), of a product line."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    name = models.CharField(_("name"), max_length=200)
    product_line = models.CharField(_("product line"), max_length=100, blank=True)
    division = models.CharField(_("division"), max_length=120, blank=True,
                                help_text=_("The customer's division or buying center."))
    kind = models.CharField(_("kind"), max_length=15, choices=OpportunityKind.choices, default=OpportunityKind.CROSS_SELL)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, default=Stage.QUALIFY)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=0)
    probability = models.DecimalField(_("probability"), max_digits=4, decimal_places=3, default=Decimal("0.1"),
                                      help_text=_("Between 0 and 1."))
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="opportunities")
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    reason = models.TextField(_("reason won or lost"), blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["created_at"])
    objects = OpportunityQuerySet.as_manager()

    class Meta:
        ordering = ["account", "expected_close", "pk"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="opportunity_amount_not_negative"),
            models.CheckConstraint(condition=Q(probability__gte=0, probability__lte=1), name="opportunity_probability_0_1"),
            models.CheckConstraint(condition=Q(kind__in=OpportunityKind.values), name="opportunity_kind_valid"),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="opportunity_stage_valid"),
        ]
        indexes = [models.Index(fields=["account", "stage"])]

    def __str__(self) -> str:
        return self.name

    @property
    def expected_value(self) -> Decimal:
        return analysis.expected_value(self.amount, self.probability)


class CellState(models.TextChoices):
    WHITESPACE = "whitespace", _("Whitespace")
    IN_USE = "in_use", _("In use")
    COMPETITOR = "competitor", _("Held by a competitor")
    NOT_RELEVANT = "not_relevant", _("Not relevant")


class WhitespaceCell(models.Model):
    """What the team knows of one division × product line of the account; open and won opportunities add to it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="whitespace_cells")
    division = models.CharField(_("division"), max_length=120)
    product_line = models.CharField(_("product line"), max_length=100)
    state = models.CharField(_("state"), max_length=15, choices=CellState.choices, default=CellState.WHITESPACE)
    competitor = models.CharField(_("competitor"), max_length=200, blank=True)
    estimated_value = models.DecimalField(_("estimated value"), max_digits=16, decimal_places=2, null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    version = models.PositiveIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["account", "division", "product_line"]
        constraints = [
            models.UniqueConstraint(fields=["account", "division", "product_line"], name="whitespace_cell_unique"),
            models.CheckConstraint(condition=Q(state__in=CellState.values), name="whitespace_state_valid"),
            models.CheckConstraint(condition=Q(estimated_value__isnull=True) | Q(estimated_value__gte=0),
                                   name="whitespace_value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.division} × {self.product_line}"


class RaciArea(models.TextChoices):
    RELATIONSHIPS = "relationships", _("Relationships")
    BUSINESS_REVIEWS = "business_reviews", _("Business reviews")
    GOALS = "goals", _("Goals and actions")
    ONBOARDING = "onboarding", _("Onboarding")
    SUPPORT = "support", _("Support")
    COMMERCIAL = "commercial", _("Commercial")


class RaciRole(models.TextChoices):
    RESPONSIBLE = "R", _("Responsible")
    ACCOUNTABLE = "A", _("Accountable")
    CONSULTED = "C", _("Consulted")
    INFORMED = "I", _("Informed")


class RaciAssignment(models.Model):
    """Who on the account team is responsible, accountable, consulted or informed for one area of the plan."""

    member = models.ForeignKey(TeamMember, on_delete=models.CASCADE, related_name="raci")
    area = models.CharField(_("area"), max_length=20, choices=RaciArea.choices)
    role = models.CharField(_("role"), max_length=1, choices=RaciRole.choices)
    # Counts on from the last version of the same member and area, also after the role was cleared,
    # so that a reader of an earlier state is always stale (services.set_raci).
    version = models.PositiveIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["member", "area"]
        constraints = [
            models.UniqueConstraint(fields=["member", "area"], name="raci_one_role_per_area"),
            models.CheckConstraint(condition=Q(area__in=RaciArea.values), name="raci_area_valid"),
            models.CheckConstraint(condition=Q(role__in=RaciRole.values), name="raci_role_valid"),
        ]


class ProgramCharter(models.Model):
    """The KAM program's charter: one row for the installation, written by its leaders.

    ``content`` holds the texts and lists of analysis.CHARTER. The selection criteria, the review
    cadence, the executive sponsors and the readiness figures are not stored here: the charter
    page reads them live from the selection settings, the account teams and the ledger.
    """

    content = models.JSONField(_("content"), default=dict)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    def __str__(self) -> str:
        return "KAM charter"


class RolloutStep(models.Model):
    """One step of rolling out the KAM program itself, in a phase; drawn on the charter's Gantt chart."""

    phase = models.CharField(_("phase"), max_length=100)
    title = models.CharField(_("step"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="rollout_steps")
    start = models.DateField(_("start"), null=True, blank=True)
    due = models.DateField(_("due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=ActionStatus.choices, default=ActionStatus.NOT_STARTED)
    milestone = models.BooleanField(_("milestone"), default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["created_at"])

    class Meta:
        ordering = ["start", "due", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(due__isnull=True) | Q(start__isnull=True) | Q(due__gte=F("start")),
                                   name="rollout_due_after_start"),
            models.CheckConstraint(condition=Q(status__in=ActionStatus.values), name="rollout_status_valid"),
        ]

    def __str__(self) -> str:
        return self.title
