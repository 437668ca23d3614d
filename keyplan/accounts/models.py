"""Accounts, their teams, competitors and key status history."""

import zoneinfo
from functools import cache, lru_cache

from babel.numbers import list_currencies
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords


@lru_cache(maxsize=64)
def _choice_labels(field: models.Field, language: str | None) -> dict:
    """``field``'s choices as Django's get_FOO_display() reads them, with the labels in ``language``."""
    return {key: force_str(label, strings_only=True) for key, label in make_hashable(field.flatchoices)}


class Tier(models.TextChoices):
    KEY = "key", _("Key account")
    CANDIDATE = "candidate", _("Candidate")
    STANDARD = "standard", _("Standard")


class Lifecycle(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    CHURNED = "churned", _("Churned")


class OnboardingStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")


class RevenueBand(models.TextChoices):
    UNDER_1M = "lt1m", _("Under 1 M")
    FROM_1M = "1m-10m", _("1–10 M")
    FROM_10M = "10m-50m", _("10–50 M")
    FROM_50M = "50m-250m", _("50–250 M")
    FROM_250M = "250m-1b", _("250 M – 1 B")
    OVER_1B = "gt1b", _("Over 1 B")


class Industry(models.TextChoices):
    MANUFACTURING = "manufacturing", _("Manufacturing")
    AUTOMOTIVE = "automotive", _("Automotive")
    CHEMICALS = "chemicals", _("Chemicals")
    ENERGY = "energy", _("Energy and utilities")
    FINANCIAL = "financial", _("Financial services")
    HEALTHCARE = "healthcare", _("Healthcare and life sciences")
    LOGISTICS = "logistics", _("Logistics and transport")
    RETAIL = "retail", _("Retail and consumer goods")
    TECHNOLOGY = "technology", _("Technology and software")
    TELECOM = "telecom", _("Telecommunications")
    CONSTRUCTION = "construction", _("Construction and real estate")
    FOOD = "food", _("Food and agriculture")
    PUBLIC = "public", _("Public sector and education")
    SERVICES = "services", _("Professional services")
    MEDIA = "media", _("Media and entertainment")
    OTHER = "other", _("Other")


class TeamRole(models.TextChoices):
    KAM = "kam", _("Key account manager")
    SALES = "sales", _("Sales")
    MARKETING = "marketing", _("Marketing")
    TECHNICAL_SUPPORT = "technical_support", _("Technical support")
    IMPLEMENTATION = "implementation", _("Implementation")
    ONBOARDING = "onboarding", _("Onboarding specialist")
    EXECUTIVE_SPONSOR = "executive_sponsor", _("Executive sponsor")


@cache
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value and value not in time_zone_names():
        raise ValidationError(
            _("%(value)s is not a known time zone; use an IANA name such as Europe/Amsterdam."),
            params={"value": value},
            code="invalid_time_zone",
        )


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(list_currencies())


def validate_currency(value: str) -> None:
    if value not in currency_codes():
        raise ValidationError(
            _("%(value)s is not an ISO 4217 currency code such as EUR or USD."),
            params={"value": value},
            code="invalid_currency",
        )


class AccountQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AccountQuerySet":
        """The one choke point for reading: team members see only the accounts whose team they are on."""
        if not user.is_authenticated:
            return self.none()
        if user.sees_all_accounts:
            return self
        return self.filter(pk__in=TeamMember.objects.filter(user=user).values("account_id"))

    def editable_by(self, user) -> "AccountQuerySet":
        if not user.is_authenticated or user.is_read_only:
            return self.none()
        if user.edits_all_accounts:
            return self
        return self.visible_to(user)

    def active(self) -> "AccountQuerySet":
        return self.filter(archived_at__isnull=True)


ACTIVE = Q(archived_at__isnull=True)


class Account(models.Model):
    def _get_FIELD_display(self, field):
        """Django's get_tier_display() and the like, without making a dict of every choice, each label translated,
        on every call (the account list shows three for each of its 50 rows: a third of its CPU). The labels are
        made once per field and language."""
        return _choice_labels(field, translation.get_language()).get(
            make_hashable(getattr(self, field.attname)), force_str(getattr(self, field.attname), strings_only=True))

    name = models.CharField(_("name"), max_length=200)
    external_id = models.CharField(
        _("external id"),
        max_length=64,
        unique=True,
        help_text=_("The id your ERP or CRM exports use for this customer."),
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    industry = models.CharField(_("industry"), max_length=32, choices=Industry.choices, blank=True)
    referred_by = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
        help_text=_("The customer who brought this one to us; referrals are counted per referrer."),
    )
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    revenue_band = models.CharField(_("annual revenue"), max_length=16, choices=RevenueBand.choices, blank=True)
    country = CountryField(_("country"), blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_time_zone])
    website = models.URLField(_("website"), blank=True)
    lifecycle = models.CharField(_("lifecycle"), max_length=16, choices=Lifecycle.choices, default=Lifecycle.PROSPECT)
    onboarding_status = models.CharField(
        _("onboarding status"), max_length=16, choices=OnboardingStatus.choices, default=OnboardingStatus.NOT_STARTED
    )
    reporting_currency = models.CharField(
        _("reporting currency"), max_length=3, default="EUR", validators=[validate_currency]
    )
    business_plan = models.TextField(_("business plan"), blank=True)
    target_audience = models.TextField(
        _("target audience"), blank=True, help_text=_("The customer's own ideal customer profile.")
    )
    relationship_start = models.DateField(_("relationship since"), null=True, blank=True)
    relationship_history = models.TextField(_("relationship history"), blank=True)
    tier = models.CharField(_("key status"), max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at", "created_at", "version"])
    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name", "external_id"]
        # Lists show active accounts: partial indexes on them let the database count
        # and page through 100,000 accounts from the index alone.
        indexes = [
            models.Index(fields=["name", "external_id"], condition=ACTIVE, name="account_active_name"),
            models.Index(fields=["tier", "name", "external_id"], condition=ACTIVE, name="account_active_tier"),
            models.Index(fields=["industry", "name", "external_id"], condition=ACTIVE, name="account_active_industry"),
            models.Index(fields=["country", "name", "external_id"], condition=ACTIVE, name="account_active_country"),
            models.Index(fields=["lifecycle", "name", "external_id"], condition=ACTIVE, name="account_active_lifecycle"),
            models.Index(fields=["updated_at"], name="account_updated"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.referred_by_id is not None and self.referred_by_id == self.pk:
            raise ValidationError({"referred_by": _("An account cannot refer itself.")})
        if self.parent_id is not None and self.pk is not None:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": _("An account cannot be its own parent.")})
            # Walk up from the new parent: meeting this account again means a cycle.
            ancestor_id = self.parent_id
            seen = set()
            while ancestor_id is not None and ancestor_id not in seen:
                if ancestor_id == self.pk:
                    raise ValidationError(
                        {"parent": _("%(parent)s is a subsidiary of this account; that would make a cycle.")
                         % {"parent": self.parent.name}}
                    )
                seen.add(ancestor_id)
                ancestor_id = Account.objects.filter(pk=ancestor_id).values_list("parent_id", flat=True).first()

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def ancestors(self) -> list["Account"]:
        chain, node, seen = [], self.parent, set()
        while node is not None and node.pk not in seen:
            chain.append(node)
            seen.add(node.pk)
            node = node.parent
        return list(reversed(chain))


class Competitor(models.Model):
    """A competitor the customer also buys from or considers, and its selling point in the customer's eyes."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="competitors")
    name = models.CharField(_("competitor"), max_length=200)
    unique_selling_point = models.TextField(_("unique selling point"), blank=True)

    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="competitor_unique_per_account")]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="team_memberships")
    role = models.CharField(_("role"), max_length=32, choices=TeamRole.choices)
    responsibilities = models.TextField(_("responsibilities"), blank=True)

    version = models.PositiveIntegerField(default=1, help_text=_("Raised by every saved change (optimistic concurrency)."))

    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        ordering = ["role", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["account", "user", "role"], name="team_member_unique_role"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(role="kam"), name="one_kam_per_account"
            ),
            models.UniqueConstraint(
                fields=["account"], condition=Q(role="executive_sponsor"), name="one_sponsor_per_account"
            ),
        ]
        indexes = [models.Index(fields=["user", "role"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


# Reasons Keyplan writes itself into the key status history, by code: each renders its parameters in the reader's
# language (the selection registers "selected"). A reason a person typed is kept as they typed it.
TIER_REASONS: dict = {}


class TierChange(models.Model):
    """One change of key status: kept forever, with who, when and why."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.CharField(max_length=16, choices=Tier.choices, blank=True)
    to_tier = models.CharField(max_length=16, choices=Tier.choices)
    reason = models.TextField(_("reason"))
    reason_code = models.CharField(max_length=32, blank=True, default="")
    reason_params = models.JSONField(default=dict, blank=True)
    effective_date = models.DateField(_("effective date"))
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.account}: {self.from_tier or '—'} → {self.to_tier}"

    @property
    def reason_text(self) -> str:
        """Why, in the reader's language: a reason Keyplan wrote is rendered from its code; the fixed English notes
        of imports and the demo ("Account created") through the catalog; a person's reason as written."""
        from django.utils.translation import gettext

        render = TIER_REASONS.get(self.reason_code)
        return render(self.reason_params) if render else gettext(self.reason)
