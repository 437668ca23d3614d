"""Key-account selection: criteria and their weights, scores 1–10, selection rounds that
freeze them, proposals of key status, and the periodic reviews that check them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from keyplan.accounts.models import TIER_REASONS, Account, Tier

SCORE_MIN, SCORE_MAX = 1, 10


class CriterionGroup(models.TextChoices):
    GROWTH = "growth", _("Growth potential")
    HARMONY = "harmony", _("Harmony")


class CriterionSource(models.TextChoices):
    """Who gives the score: people, or a documented mapping from data (see analysis.MAPPINGS)."""

    MANUAL = "manual", _("Scored by people")
    REVENUE_TREND = "revenue_trend", _("Computed: revenue trend")
    MARGIN = "margin", _("Computed: margin")
    CLV = "clv", _("Computed: customer lifetime value")
    STAKEHOLDER_COVERAGE = "stakeholder_coverage", _("Computed: stakeholder coverage")
    CREDIT_RATING = "credit_rating", _("Computed: credit rating")
    REFERRALS = "referrals", _("Computed: referrals")


class Cadence(models.TextChoices):
    MONTHLY = "monthly", pgettext_lazy("cadence", "Monthly")
    QUARTERLY = "quarterly", _("Quarterly")


ACTIVE = Q(archived_at__isnull=True)


class CriterionQuerySet(models.QuerySet):
    def active(self) -> "CriterionQuerySet":
        return self.filter(ACTIVE)


def _library_text(text: str) -> str:
    """``text`` in the reader's language when it is the suggested library's English text, else as written."""
    from keyplan.scoring.services import LIBRARY_TEXTS

    return gettext(text) if text in LIBRARY_TEXTS else text


class Criterion(models.Model):
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    group = models.CharField(_("group"), max_length=16, choices=CriterionGroup.choices)
    weight = models.DecimalField(
        _("weight"), max_digits=6, decimal_places=2, default=20,
        help_text=_("Share of its group, in percent. Weights of a group should add up to 100."),
    )
    source = models.CharField(_("scored"), max_length=32, choices=CriterionSource.choices, default=CriterionSource.MANUAL)
    position = models.PositiveSmallIntegerField(default=0)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True,
                                       help_text=_("When its scores were last computed from data (computed criteria)."))

    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    history = HistoricalRecords(excluded_fields=["created_at", "computed_at", "version"])
    objects = CriterionQuerySet.as_manager()

    class Meta:
        ordering = ["group", "position", "pk"]
        verbose_name_plural = "criteria"
        constraints = [
            models.UniqueConstraint(Lower("name"), condition=ACTIVE, name="criterion_unique_active_name"),
            models.CheckConstraint(condition=Q(weight__gte=0), name="criterion_weight_not_negative"),
            models.CheckConstraint(condition=Q(group__in=CriterionGroup.values), name="criterion_group_known"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        """The name as the reader reads it: a criterion still named as the suggested library names it in English
        (the demo's, or one an English-speaking lead added) reads in the reader's language; a team's own name is
        theirs."""
        return _library_text(self.name)

    @property
    def explanation(self) -> str:
        """The description, by the same rule as ``label``."""
        return _library_text(self.description)

    @property
    def is_computed(self) -> bool:
        return self.source != CriterionSource.MANUAL

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Score(models.Model):
    """The current score of one account on one criterion; every earlier value is in its history.

    On a computed criterion a score is either computed from data (``scored_by`` empty, ``computed_at``
    the time it was computed) or, where the data is missing, a person's estimate (``estimate``), which
    the data replaces as soon as it arrives.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="scores")
    value = models.PositiveSmallIntegerField(_("score"))
    note = models.TextField(_("note"), blank=True)
    # Set when Keyplan wrote the note (a score computed from data): read from note_params in the reader's language.
    note_code = models.CharField(max_length=32, blank=True, default="")
    note_params = models.JSONField(default=dict, blank=True)
    scored_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    scored_at = models.DateTimeField(_("scored at"))
    estimate = models.BooleanField(
        _("estimate"), default=False,
        help_text=_("A person's estimate on a criterion computed from data, while the data is missing."),
    )
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["computed_at"])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "criterion"], name="score_unique_per_criterion"),
            models.CheckConstraint(condition=Q(value__gte=SCORE_MIN, value__lte=SCORE_MAX), name="score_in_scale"),
        ]
        indexes = [models.Index(fields=["criterion", "account"], name="score_criterion_account")]

    def __str__(self) -> str:
        return f"{self.account} · {self.criterion}: {self.value}"

    @property
    def note_text(self) -> str:
        """The note in the reader's language when Keyplan wrote it (from its code), else as the person wrote it."""
        return score_note(self.note_code, self.note_params) or self.note


def score_note(code: str, params: dict) -> str:
    """The note Keyplan writes on a score computed from data, in the active language; "" for no or an unknown code."""
    from django.utils.translation import ngettext

    from keyplan.core import numbers

    if code == "revenue_trend":
        now, then = params.get("now", 0), params.get("then", 0)
        change = numbers.percent(now / then - 1, 0, signed=True) if then else gettext("new revenue")
        return gettext("Revenue last 12 months %(now)s against %(then)s before (%(change)s).") % {
            "now": numbers.number(now), "then": numbers.number(then), "change": change}
    if code == "margin":
        return gettext("Margin %(share)s over the last 12 months.") % {"share": numbers.percent(params.get("share"), 1)}
    if code == "clv":
        return gettext("Lifetime value %(clv)s over 12 months (decile %(score)s).") % {
            "clv": numbers.number(params.get("clv")), "score": numbers.number(params.get("decile"))}
    if code == "coverage":
        n = params.get("n", 0)
        return ngettext("%(n)s stakeholder on the map.", "%(n)s stakeholders on the map.", n) % {"n": numbers.number(n)}
    if code == "referrals":
        n = params.get("n", 0)
        return ngettext("%(n)s customer referred.", "%(n)s customers referred.", n) % {"n": numbers.number(n)}
    if code == "credit_rating":
        return gettext("Credit rating %(r)s") % {"r": params.get("rating", "")}
    return ""


def score_note_in_english(code: str, params: dict) -> str:
    """The note as stored in ``Score.note``, for programs (the API, exports): English."""
    from django.utils import translation

    with translation.override("en"):
        return score_note(code, params)


class ScoringSettings(models.Model):
    """One row: how often the selection is reviewed and what a team member's time costs."""

    review_cadence = models.CharField(_("review cadence"), max_length=16, choices=Cadence.choices, default=Cadence.QUARTERLY)
    team_cost_per_member = models.DecimalField(
        _("yearly cost of one team member on an account"), max_digits=14, decimal_places=2, default=12000,
        help_text=_("In the reporting currency; the effort side of an account's return on effort."),
    )

    history = HistoricalRecords()

    def __str__(self) -> str:
        return "Scoring settings"


class SelectionRound(models.Model):
    """A dated selection (e.g. "FY2026"): the criteria, weights and scores it used are frozen with it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    date = models.DateField(_("date"))
    notes = models.TextField(_("notes"), blank=True)
    capacity = models.PositiveIntegerField(_("key-account capacity"), default=0)
    kam_count = models.PositiveIntegerField(default=0)
    cutoff = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-pk"]

    def __str__(self) -> str:
        return self.name


class RoundCriterion(models.Model):
    """A criterion as it was when the round was taken: its name, group and weight stay as they were."""

    round = models.ForeignKey(SelectionRound, on_delete=models.CASCADE, related_name="criteria")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="rounds")
    name = models.CharField(max_length=100)
    group = models.CharField(max_length=16, choices=CriterionGroup.choices)
    weight = models.DecimalField(max_digits=6, decimal_places=2)
    source = models.CharField(max_length=32, choices=CriterionSource.choices)

    class Meta:
        ordering = ["group", "pk"]
        constraints = [models.UniqueConstraint(fields=["round", "criterion"], name="round_criterion_unique")]


class RoundScore(models.Model):
    round = models.ForeignKey(SelectionRound, on_delete=models.CASCADE, related_name="scores")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="+")
    value = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "account", "criterion"], name="round_score_unique"),
            models.CheckConstraint(condition=Q(value__gte=SCORE_MIN, value__lte=SCORE_MAX), name="round_score_in_scale"),
        ]


class RoundAccount(models.Model):
    """An account's totals and rank in a round, and its key status then."""

    round = models.ForeignKey(SelectionRound, on_delete=models.CASCADE, related_name="accounts")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    growth_total = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    harmony_total = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    total = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    rank = models.PositiveIntegerField(null=True)
    tier = models.CharField(max_length=16, choices=Tier.choices)

    class Meta:
        ordering = ["rank", "pk"]
        constraints = [models.UniqueConstraint(fields=["round", "account"], name="round_account_unique")]


class ProposalAction(models.TextChoices):
    PROMOTE = "promote", _("Make key account")
    DEMOTE = "demote", _("Scale back from key account")


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", pgettext_lazy("proposal status", "Rejected")
    SUPERSEDED = "superseded", pgettext_lazy("proposal status", "Superseded")  # by a later round, undecided


class Proposal(models.Model):
    """A proposed change of key status from a round's ranking, with why; a KAM lead decides."""

    round = models.ForeignKey(SelectionRound, on_delete=models.CASCADE, related_name="proposals")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="selection_proposals")
    action = models.CharField(max_length=16, choices=ProposalAction.choices)
    from_tier = models.CharField(max_length=16, choices=Tier.choices)
    to_tier = models.CharField(max_length=16, choices=Tier.choices)
    rank = models.PositiveIntegerField(null=True)
    total = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    explanation = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)  # as the person deciding wrote it
    # A reason Keyplan gives itself is kept as a code and its values, and written in each reader's language.
    decision_code = models.CharField(max_length=16, blank=True, choices=[("selected", "selected"), ("superseded", "superseded")])
    decision_params = models.JSONField(default=dict, blank=True)
    effective_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["action", "rank", "pk"]
        constraints = [models.UniqueConstraint(fields=["round", "account"], name="proposal_unique_per_round")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.account}"

    @property
    def decision_text(self) -> str:
        """Why it was decided, in the active language (a reason Keyplan gave itself is rendered from its code)."""
        return decision_text(self.decision_code, self.decision_params) or self.decision_reason


def decision_text(code: str, params: dict) -> str:
    from keyplan.core import numbers

    if code == "superseded":
        return gettext("Superseded by round %(round)s.") % {"round": params.get("round", "")}
    if code == "selected":
        return gettext("Selected in round %(round)s: rank %(rank)s, total %(total)s (cut-off %(cutoff)s); carried by %(carried)s.") % {
            "round": params.get("round", ""), "rank": numbers.number(params.get("rank")),
            "total": numbers.number(params.get("total"), 2), "cutoff": numbers.number(params.get("cutoff"), 2),
            "carried": ", ".join(_library_text(name) for name in (params.get("carried") or "").split(", ") if name) or "—"}
    return ""


class Review(models.Model):
    """One periodic review of key status: what it found and what was decided."""

    round = models.ForeignKey(SelectionRound, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews")
    as_of = models.DateField(_("as of"))
    cadence = models.CharField(max_length=16, choices=Cadence.choices)
    findings = models.JSONField(default=dict)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Review {self.as_of}"


class DecisionAction(models.TextChoices):
    PROMOTE = "promote", _("Make key account")
    DEMOTE = "demote", _("Scale back from key account")
    KEEP = "keep", _("Keep as is")
    WATCH = "watch", _("Watch")


class ReviewDecision(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="decisions")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16, choices=DecisionAction.choices)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["decided_at", "pk"]


def review_promoted(params: dict) -> str:
    import datetime

    from keyplan.core.dates import format_date

    day = format_date(datetime.date.fromisoformat(params["date"]), "SHORT_DATE_FORMAT")
    return gettext("Promoted in the review of %(date)s.") % {"date": day}


TIER_REASONS["selected"] = lambda params: decision_text("selected", params)
TIER_REASONS["review_promoted"] = review_promoted


def tier_reason_in_english(code: str, params: dict) -> str:
    """The text of a reason Keyplan writes, in English as the tier history stores it (for programs)."""
    from django.utils import translation

    with translation.override("en"):
        return TIER_REASONS[code](params)
