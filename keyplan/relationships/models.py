"""Stakeholders of an account, the informal influence between them and the shared interaction log."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Case, Count, F, Max, Q, Sum, Value, When
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from keyplan.accounts.models import Account
from keyplan.relationships import analysis


class BuyingRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("Decision maker")
    ECONOMIC_BUYER = "economic_buyer", _("Economic buyer")
    INFLUENCER = "influencer", _("Influencer")
    CHAMPION = "champion", _("Champion")
    USER = "user", _("User")
    GATEKEEPER = "gatekeeper", _("Gatekeeper")
    BLOCKER = "blocker", _("Blocker")


class DecisionPower(models.TextChoices):
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class Sentiment(models.TextChoices):
    SUPPORTER = "supporter", _("Supporter")
    NEUTRAL = "neutral", _("Neutral")
    CRITIC = "critic", _("Critic")


class ContactStrength(models.TextChoices):
    NONE = "none", _("None")
    WEAK = "weak", _("Weak")
    MEDIUM = "medium", _("Medium")
    STRONG = "strong", _("Strong")


class LineStrength(models.TextChoices):
    WEAK = "weak", _("Weak")
    MEDIUM = "medium", _("Medium")
    STRONG = "strong", _("Strong")


class Polarity(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEGATIVE = "negative", _("Negative")


class InteractionKind(models.TextChoices):
    MEETING = "meeting", _("Meeting")
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    VISIT = "visit", _("Visit")
    EVENT = "event", _("Event")


# Kinds that are appointments: they go into the calendar export when planned.
APPOINTMENT_KINDS = (InteractionKind.MEETING, InteractionKind.CALL, InteractionKind.VISIT, InteractionKind.EVENT)

assert set(analysis.CONTACT_POINTS) == set(InteractionKind.values)  # one rule, two places: keep them in step
assert set(analysis.DECIDING_ROLES) <= set(BuyingRole.values)


class StakeholderQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StakeholderQuerySet":
        """Stakeholders of the accounts ``user`` may see: the account's reach is the stakeholder's."""
        return self.filter(account__in=Account.objects.visible_to(user))

    def active(self) -> "StakeholderQuerySet":
        return self.filter(archived_at__isnull=True)

    def with_contact(self, today: datetime.date) -> "StakeholderQuerySet":
        """Annotate ``last_contact``, ``held_count``, ``recent_points`` and ``contact`` (the effective strength).

        The rule is analysis.contact_strength(); this is the same rule in SQL so that
        lists can filter and sort on it.
        """
        held = Q(interactions__date__lte=today)
        recent = held & Q(interactions__date__gt=today - datetime.timedelta(days=analysis.CONTACT_WINDOW_DAYS))
        point_cases = [
            When(recent & Q(interactions__kind=kind), then=Value(points))
            for kind, points in analysis.CONTACT_POINTS.items()
        ]
        annotated = self.annotate(
            last_contact=Max("interactions__date", filter=held),
            held_count=Count("interactions", filter=held),
            recent_points=Sum(Case(*point_cases, default=Value(0), output_field=models.IntegerField())),
        )
        return annotated.annotate(
            contact=Case(
                When(held_count=0, then=F("contact_strength")),
                When(recent_points__gte=analysis.STRONG_CONTACT_POINTS, then=Value(ContactStrength.STRONG)),
                When(recent_points__gte=analysis.MEDIUM_CONTACT_POINTS, then=Value(ContactStrength.MEDIUM)),
                default=Value(ContactStrength.WEAK),
                output_field=models.CharField(),
            )
        )


class Stakeholder(models.Model):
    """A person on the customer's side of the buying decision, or of an external party (consultant, auditor…)."""

    # No index of its own: the (account, name) index serves every lookup by account, and each index costs a
    # CRM import of 500,000 contacts its share of the writing (benchmarks/crm_import.py).
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stakeholders", db_index=False)
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200, blank=True)
    department = models.CharField(
        _("department"), max_length=120, blank=True, help_text=_("The customer's division or buying center.")
    )
    external_organisation = models.CharField(
        _("external organisation"),
        max_length=200,
        blank=True,
        help_text=_("For consultants, partners, auditors: their firm. Empty for the customer's own people."),
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    reports_to = models.ForeignKey(
        "self",
        verbose_name=_("reports to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="direct_reports",
    )
    buying_role = models.CharField(_("role in the buying decision"), max_length=20, choices=BuyingRole.choices, blank=True)
    decision_power = models.CharField(
        _("decision power"), max_length=10, choices=DecisionPower.choices, default=DecisionPower.MEDIUM
    )
    sentiment = models.CharField(_("sentiment towards us"), max_length=10, choices=Sentiment.choices, default=Sentiment.NEUTRAL)
    contact_strength = models.CharField(
        _("contact strength"),
        max_length=10,
        choices=ContactStrength.choices,
        default=ContactStrength.NONE,
        help_text=_("Used until interactions are logged; from then on it is computed from them."),
    )
    is_key_contact = models.BooleanField(_("key contact point"), default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("relationship owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_stakeholders",
    )
    notes = models.TextField(_("notes"), blank=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    # The history is written in bulk by the CRM import (a row per created contact): it carries no foreign key
    # to the user in the database (PostgreSQL checks each with a trigger per row; Django still sets it to
    # null when a user is deleted), and no index on the manager or owner, which nothing looks up.
    history = HistoricalRecords(excluded_fields=["created_at", "updated_at", "version"], user_db_constraint=False,
                                no_db_index=["reports_to", "owner"])
    objects = StakeholderQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(reports_to=F("pk")), name="stakeholder_not_own_manager"),
            models.CheckConstraint(condition=Q(buying_role__in=["", *BuyingRole.values]), name="stakeholder_buying_role_valid"),
            models.CheckConstraint(condition=Q(decision_power__in=DecisionPower.values), name="stakeholder_power_valid"),
            models.CheckConstraint(condition=Q(sentiment__in=Sentiment.values), name="stakeholder_sentiment_valid"),
            models.CheckConstraint(condition=Q(contact_strength__in=ContactStrength.values), name="stakeholder_contact_valid"),
        ]
        indexes = [models.Index(fields=["account", "name"])]

    def __str__(self) -> str:
        if self.external_organisation:
            return f"{self.name} ({self.external_organisation})"
        return self.name

    @property
    def is_external(self) -> bool:
        return bool(self.external_organisation)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_decision_maker(self) -> bool:
        return self.buying_role in analysis.DECIDING_ROLES


def _default_stale_powers() -> list[str]:
    return list(analysis.STALE_POWERS)


def _default_stale_roles() -> list[str]:
    return list(analysis.DECIDING_ROLES)


class RelationshipSettings(models.Model):
    """One row: whom the stale alerts watch and after how many days without contact. A KAM lead changes it."""

    stale_after_days = models.PositiveSmallIntegerField(
        _("stale after (days)"), default=analysis.STALE_AFTER_DAYS,
        help_text=_("A watched relationship with no contact for this many days or more is stale."),
    )
    stale_powers = models.JSONField(_("decision powers watched"), default=_default_stale_powers, blank=True)
    stale_roles = models.JSONField(_("buying roles watched"), default=_default_stale_roles, blank=True)
    stale_key_contacts = models.BooleanField(_("key contact points watched"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(stale_after_days__gte=1, stale_after_days__lte=3650),
                                   name="relationship_settings_days_valid"),
        ]

    def __str__(self) -> str:
        return "Relationship settings"

    @property
    def rule(self) -> analysis.StaleRule:
        return analysis.StaleRule(
            days=self.stale_after_days,
            powers=tuple(p for p in DecisionPower.values if p in (self.stale_powers or [])),
            roles=tuple(r for r in BuyingRole.values if r in (self.stale_roles or [])),
            key_contacts=self.stale_key_contacts,
        )


class InfluenceLine(models.Model):
    """Informal influence of one stakeholder on another, outside the reporting lines."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="influence_lines")
    source = models.ForeignKey(
        Stakeholder, verbose_name=_("from"), on_delete=models.CASCADE, related_name="lines_out"
    )
    target = models.ForeignKey(Stakeholder, verbose_name=pgettext_lazy("relationship line", "to"), on_delete=models.CASCADE, related_name="lines_in")
    polarity = models.CharField(_("positive or negative"), max_length=10, choices=Polarity.choices, default=Polarity.POSITIVE)
    strength = models.CharField(_("strength"), max_length=10, choices=LineStrength.choices, default=LineStrength.MEDIUM)
    note = models.TextField(_("note"), blank=True)
    since = models.DateField(_("since"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    history = HistoricalRecords(excluded_fields=["created_at", "version"])

    class Meta:
        ordering = ["source__name", "target__name", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("target")), name="influence_line_not_to_self"),
            models.UniqueConstraint(fields=["source", "target"], name="influence_line_unique_direction"),
            models.CheckConstraint(condition=Q(polarity__in=Polarity.values), name="influence_line_polarity_valid"),
            models.CheckConstraint(condition=Q(strength__in=LineStrength.values), name="influence_line_strength_valid"),
        ]

    def __str__(self) -> str:
        arrow = "+" if self.polarity == Polarity.POSITIVE else "−"
        return f"{self.source.name} →{arrow} {self.target.name}"


class InteractionQuerySet(models.QuerySet):
    def visible_to(self, user) -> "InteractionQuerySet":
        return self.filter(account__in=Account.objects.visible_to(user))

    def planned(self, today: datetime.date) -> "InteractionQuerySet":
        return self.filter(date__gte=today, kind__in=APPOINTMENT_KINDS)


class Interaction(models.Model):
    """A meeting, call, email, visit or event with the customer, and the next step it led to."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(_("kind"), max_length=10, choices=InteractionKind.choices, default=InteractionKind.MEETING)
    date = models.DateField(_("date"))
    time = models.TimeField(_("time"), null=True, blank=True, help_text=_("In the account's time zone."))
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=60)
    location = models.CharField(_("location"), max_length=200, blank=True)
    summary = models.TextField(_("summary"))
    stakeholders = models.ManyToManyField(
        Stakeholder, verbose_name=_("stakeholders"), related_name="interactions", blank=True
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("team members"), related_name="interactions", blank=True
    )
    next_step = models.TextField(_("next step"), blank=True)
    next_step_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("next step owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="next_steps",
    )
    next_step_due = models.DateField(_("next step due"), null=True, blank=True)
    next_step_done = models.BooleanField(_("next step done"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("recorded by")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at", "version"], m2m_fields=[stakeholders, users])
    objects = InteractionQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "-time", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=InteractionKind.values), name="interaction_kind_valid"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=1, duration_minutes__lte=24 * 60), name="interaction_duration_valid"),
        ]
        indexes = [models.Index(fields=["account", "-date"]), models.Index(fields=["date"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date:%Y-%m-%d}: {self.headline}"

    @property
    def headline(self) -> str:
        first = (self.summary or "").strip().splitlines()[0] if self.summary.strip() else ""
        return first if len(first) <= 80 else first[:79] + "…"
