"""What may happen in key-account selection: criteria, scores, rounds, proposals, reviews.

Every write is one function: it checks permission, validates, writes inside one
transaction and leaves history (who, when, why). Views, the API, the CLI and the
demo generator all go through here; the computations are in ``analysis.py``.
"""

import datetime
import hashlib
import math
from array import array
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from keyplan.accounts import services as accounts
from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from keyplan.core.models import User
from keyplan.core.versions import bump, check_version
from keyplan.scoring import analysis
from keyplan.scoring.models import (
    SCORE_MAX,
    SCORE_MIN,
    Cadence,
    Criterion,
    CriterionGroup,
    CriterionSource,
    DecisionAction,
    Proposal,
    ProposalAction,
    ProposalStatus,
    Review,
    ReviewDecision,
    RoundAccount,
    RoundCriterion,
    RoundScore,
    Score,
    ScoringSettings,
    SelectionRound,
    score_note,
    score_note_in_english,
    tier_reason_in_english,
)

# The library of suggested criteria a KAM lead picks from, in English; a criterion taken from it is stored
# with the library's English name and description and read in each reader's language (Criterion.label).
SUGGESTED = [
    {"key": "product_fit", "name": gettext_noop("Product fit"), "group": CriterionGroup.GROWTH, "source": CriterionSource.MANUAL,
     "description": gettext_noop("How well our products and services solve this customer's problems, today and as they grow.")},
    {"key": "revenue_potential", "name": gettext_noop("Revenue potential"), "group": CriterionGroup.GROWTH,
     "source": CriterionSource.REVENUE_TREND,
     "description": gettext_noop("Where the customer's spend with us is heading, from the revenue trend.")},
    {"key": "profitability", "name": gettext_noop("Profitability"), "group": CriterionGroup.GROWTH, "source": CriterionSource.MARGIN,
     "description": gettext_noop("The margin we earn after the cost to serve.")},
    {"key": "lifetime_value", "name": gettext_noop("Lifetime value"), "group": CriterionGroup.GROWTH, "source": CriterionSource.CLV,
     "description": gettext_noop("The customer's expected value over the coming year (CLV).")},
    {"key": "solvency", "name": gettext_noop("Solvency"), "group": CriterionGroup.GROWTH, "source": CriterionSource.CREDIT_RATING,
     "description": gettext_noop("Can they pay, now and in the years of the partnership: from the imported credit rating.")},
    {"key": "influence_authority", "name": gettext_noop("Influence and authority"), "group": CriterionGroup.GROWTH,
     "source": CriterionSource.MANUAL,
     "description": gettext_noop("Their standing in the industry: a reputation and a reference that others follow.")},
    {"key": "referrals", "name": gettext_noop("Referrals"), "group": CriterionGroup.GROWTH, "source": CriterionSource.REFERRALS,
     "description": gettext_noop("How many customers they brought us, counted from the accounts' \"referred by\".")},
    # The guides put a customer's value as a channel and the relationship we have with it on the fit side.
    {"key": "channel_partner", "name": gettext_noop("Potential as a channel partner"), "group": CriterionGroup.HARMONY,
     "source": CriterionSource.MANUAL, "description": gettext_noop("Could they resell, refer or bundle our offer.")},
    {"key": "existing_relationship", "name": gettext_noop("Existing relationship"), "group": CriterionGroup.HARMONY,
     "source": CriterionSource.STAKEHOLDER_COVERAGE,
     "description": gettext_noop("Relationship strength from stakeholder coverage: decision makers known and in contact.")},
    {"key": "cultural_fit", "name": gettext_noop("Cultural fit"), "group": CriterionGroup.HARMONY, "source": CriterionSource.MANUAL,
     "description": gettext_noop("Do our ways of working match: openness, pace, how decisions are taken.")},
    {"key": "strategic_fit", "name": gettext_noop("Strategic fit"), "group": CriterionGroup.HARMONY, "source": CriterionSource.MANUAL,
     "description": gettext_noop("Does their strategy need what we are good at.")},
    {"key": "shared_vision", "name": gettext_noop("Shared vision"), "group": CriterionGroup.HARMONY, "source": CriterionSource.MANUAL,
     "description": gettext_noop("Do they see the market and the partnership the way we do.")},
    {"key": "geographic_location", "name": gettext_noop("Geographic location"), "group": CriterionGroup.HARMONY,
     "source": CriterionSource.MANUAL, "description": gettext_noop("Can we serve them well from where we and our partners are.")},
    {"key": "procurement_process", "name": gettext_noop("Procurement process"), "group": CriterionGroup.HARMONY,
     "source": CriterionSource.MANUAL,
     "description": gettext_noop("Do they buy on value and partnership rather than on price in yearly tenders.")},
]
SUGGESTED_BY_KEY = {s["key"]: s for s in SUGGESTED}
LIBRARY_TEXTS = frozenset(text for s in SUGGESTED for text in (s["name"], s["description"]))
CRITERION_FIELDS = ("name", "description", "group", "weight", "source")


# ---------------------------------------------------------------- permissions


def can_configure(user: User) -> bool:
    """Criteria, rounds, proposals and reviews are program decisions: KAM leads and admins."""
    return user.is_authenticated and user.edits_all_accounts


def can_score(user: User, account: Account) -> bool:
    return accounts.can_edit(user, account)


def _require_configure(user: User) -> None:
    if not can_configure(user):
        raise PermissionDenied(_("Only KAM leads and admins configure the selection."))


# ---------------------------------------------------------------- criteria


def _clean_criterion(data: dict, *, exclude_pk: int | None = None) -> dict:
    unknown = sorted(set(data) - set(CRITERION_FIELDS))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})
    errors = {}
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            errors["name"] = _("Name the criterion.")
        elif len(data["name"]) > 100:
            errors["name"] = _("Keep the name under 100 characters.")
        elif Criterion.objects.active().filter(name__iexact=data["name"]).exclude(pk=exclude_pk).exists():
            errors["name"] = _("A criterion named %(name)s already exists.") % {"name": data["name"]}
    if "group" in data and data["group"] not in CriterionGroup.values:
        errors["group"] = _("Choose the group: growth (growth potential) or harmony.")
    if "weight" in data:
        try:
            weight = Decimal(str(data["weight"]))
        except (InvalidOperation, ValueError, TypeError):
            weight = None
        if weight is None or not weight.is_finite():
            errors["weight"] = _("The weight is a number, e.g. 25 for 25 %.")
        elif weight < 0:
            errors["weight"] = _("A weight cannot be below 0.")
        elif weight > 1000:
            errors["weight"] = _("A weight above 1000 makes no sense; weights are percentages of the group.")
        else:
            data["weight"] = weight.quantize(Decimal("0.01"))
    if "source" in data and data["source"] not in CriterionSource.values:
        errors["source"] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(CriterionSource.values)}
    if "description" in data:
        data["description"] = (data["description"] or "").strip()
    if errors:
        raise ValidationError(errors)
    return data


@transaction.atomic
def create_criterion(
    *, by: User, name: str, group: str, weight: Decimal | float | int | str = 20, description: str = "",
    source: str = CriterionSource.MANUAL,
) -> Criterion:
    _require_configure(by)
    data = _clean_criterion({"name": name, "group": group, "weight": weight, "description": description, "source": source})
    position = Criterion.objects.active().filter(group=data["group"]).count()
    criterion = Criterion(**data, position=position, created_by=by)
    criterion._history_user = by
    try:
        with transaction.atomic():
            criterion.save()
    except IntegrityError as exc:  # a concurrent writer took the name
        raise ValidationError({"name": _("A criterion named %(name)s already exists.") % {"name": data["name"]}}) from exc
    return criterion


@transaction.atomic
def add_suggested_criterion(*, by: User, key: str, weight: Decimal | float | int = 20) -> Criterion:
    _require_configure(by)  # before the key: who may not add criteria learns nothing about the list
    if key not in SUGGESTED_BY_KEY:
        raise ValidationError({"key": _("Choose one of the suggested criteria: %(keys)s.") % {"keys": ", ".join(SUGGESTED_BY_KEY)}})
    s = SUGGESTED_BY_KEY[key]
    return create_criterion(by=by, name=s["name"], group=s["group"], weight=weight, description=s["description"],
                            source=s["source"])


@transaction.atomic
def update_criterion(criterion: Criterion, *, by: User, changes: dict, version: int | None = None) -> Criterion:
    _require_configure(by)
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    check_version(criterion, version)
    if criterion.is_archived:
        raise ValidationError({"name": _("This criterion is archived; restore it first.")})
    changes = _clean_criterion(dict(changes), exclude_pk=criterion.pk)
    changed = {k: v for k, v in changes.items() if getattr(criterion, k) != v}
    if not changed:
        return criterion
    for name, value in changed.items():
        setattr(criterion, name, value)
    bump(criterion)
    criterion._history_user = by
    criterion.save()
    return criterion


@transaction.atomic
def remove_criterion(criterion: Criterion, *, by: User, version: int | None = None) -> str:
    """Delete a criterion no round used; archive one that past rounds used (they keep their numbers).

    Returns "deleted" or "archived".
    """
    _require_configure(by)
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    check_version(criterion, version)
    criterion._history_user = by
    if RoundCriterion.objects.filter(criterion=criterion).exists():
        if criterion.archived_at is None:
            criterion.archived_at = timezone.now()
            bump(criterion)
            criterion.save(update_fields=["archived_at", "version"])
        return "archived"
    criterion.delete()
    return "deleted"


def removal_impact(criterion: Criterion) -> dict[str, Any]:
    """What removing a criterion does, for the confirmation: deleted or archived, and what happens to its scores."""
    rounds = RoundCriterion.objects.filter(criterion=criterion).count()
    return {"outcome": "archived" if rounds else "deleted", "scores": criterion.scores.count(),
            "estimates": criterion.scores.filter(estimate=True).count(), "rounds": rounds}


@transaction.atomic
def restore_criterion(criterion: Criterion, *, by: User) -> Criterion:
    _require_configure(by)
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    if criterion.archived_at is not None:
        if Criterion.objects.active().filter(name__iexact=criterion.name).exists():
            raise ValidationError({"name": _("An active criterion is already named %(name)s.") % {"name": criterion.name}})
        criterion.archived_at = None
        bump(criterion)
        criterion._history_user = by
        criterion.save(update_fields=["archived_at", "version"])
    return criterion


def specs(criteria) -> list[analysis.CriterionSpec]:
    return [analysis.CriterionSpec(c.pk, c.name, c.group, Decimal(c.weight)) for c in criteria]


def configuration_warnings() -> list[dict]:
    return analysis.group_warnings(specs(Criterion.objects.active()))


# ---------------------------------------------------------------- scores


def _check_value(value) -> int:
    try:
        number = int(str(value).strip())
        if str(number) != str(value).strip() and not isinstance(value, int):
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationError({"value": _("A score is a whole number from 1 to 10.")}) from None
    if not SCORE_MIN <= number <= SCORE_MAX:
        raise ValidationError({"value": _("A score is from 1 to 10; %(value)s is outside the scale.") % {"value": number}})
    return number


@transaction.atomic
def set_score(account: Account, *, by: User, criterion: Criterion, value: int, note: str = "") -> Score:
    """Score one account on one criterion; the earlier score stays in the history.

    On a criterion computed from data, a person may estimate the score while the data gives none
    (a new prospect has no revenue, no stakeholders yet): it is kept as an estimate, with who and
    when, until the data gives a score and replaces it.
    """
    if not can_score(by, account):
        raise PermissionDenied(_("You may not score this account."))
    number = _check_value(value)
    criterion = Criterion.objects.get(pk=criterion.pk)
    if criterion.is_archived:
        raise ValidationError({"criterion": _("%(name)s is archived; it is no longer scored.") % {"name": criterion.name}})
    Account.objects.select_for_update().filter(pk=account.pk).first()
    score = Score.objects.filter(account=account, criterion=criterion).first()
    if criterion.is_computed and score is not None and not score.estimate:
        raise ValidationError({"criterion": _("%(name)s is computed from data, and the data gives this account a "
                                              "score; it cannot be changed by hand.") % {"name": criterion.name}})
    note = (note or "").strip()
    if score is None:
        score = Score(account=account, criterion=criterion)
    elif score.value == number and score.note == note and not score.note_code:
        return score
    score.value, score.note, score.scored_by, score.scored_at = number, note, by, timezone.now()
    score.note_code, score.note_params = "", {}  # a person's note, as written
    score.estimate, score.computed_at = criterion.is_computed, None
    score._history_user = by
    score.save()
    return score


@dataclass
class Refresh:
    created: int = 0
    updated: int = 0
    removed: int = 0
    skipped: dict | None = None


def _computed_values(source: str, accounts_: list[Account], *, today: datetime.date) -> tuple[dict[int, tuple[int, str, dict]], str]:
    """account id → (score, note code, note parameters) for a computed criterion, and a message when the data is
    missing. The note is rendered from its code in each reader's language (models.score_note).

    Scores are the portfolio's, the same for everyone: computed over every account, whoever asks."""
    from keyplan.revenue import portfolio

    scope = portfolio.Scope(None)
    ids = {a.external_id: a.pk for a in accounts_}
    out: dict[int, tuple[int, str, dict]] = {}
    if source in (CriterionSource.REVENUE_TREND, CriterionSource.MARGIN):
        current = portfolio.revenue_by_account(scope, portfolio.Period.last_months(12, today=today))
        rows = {r["external_id"]: r for r in current.to_dicts()}
        if source == CriterionSource.REVENUE_TREND:
            end = portfolio.Period.last_months(12, today=today).start - datetime.timedelta(days=1)
            previous = portfolio.revenue_by_account(scope, portfolio.Period.last_months(12, today=end))
            before = {r["external_id"]: r["revenue"] for r in previous.to_dicts()}
            for ext, pk in ids.items():
                now, then = rows.get(ext, {}).get("revenue", 0.0), before.get(ext, 0.0)
                score = analysis.revenue_trend_score(now, then)
                if score is not None:
                    out[pk] = (score, "revenue_trend", {"now": round(now), "then": round(then) if then > 0 else 0})
        else:
            for ext, pk in ids.items():
                row = rows.get(ext)
                if row is None:
                    continue
                score = analysis.margin_score(row["revenue"], row["cost"])
                if score is not None:
                    out[pk] = (score, "margin", {"share": round((row["revenue"] - row["cost"]) / row["revenue"], 4)})
        return out, ""
    if source == CriterionSource.CLV:
        try:
            payload = portfolio.run("clv", scope, portfolio.Options(as_of=today))
        except (ValueError, ArithmeticError) as error:
            return out, _("Lifetime value could not be computed: %(error)s") % {"error": error}
        values = {a["external_id"]: a["clv"] for a in payload["accounts"] if a["external_id"] in ids}
        for ext, score in analysis.decile_scores(values).items():
            out[ids[ext]] = (score, "clv", {"clv": round(values[ext]), "decile": score})
        return out, ""
    if source == CriterionSource.STAKEHOLDER_COVERAGE:
        try:
            from keyplan.relationships.services import people_by_account
        except ImportError:  # the relationships area is not installed
            return out, _("Stakeholder coverage needs the relationships area.")
        people = people_by_account(accounts_, today=today)
        for account in accounts_:
            persons = people.get(account.pk, [])
            contacts = [analysis.Contact(p.buying_role, p.power, p.sentiment, p.contact) for p in persons]
            score = analysis.coverage_score(contacts)
            if score is not None:  # no stakeholder on the map yet: no data, an estimate may stand in
                out[account.pk] = (score, "coverage", {"n": len(contacts)})
        return out, ""
    if source == CriterionSource.REFERRALS:
        if not Account.objects.active().filter(referred_by__isnull=False).exists():
            return out, _("No account has a referrer recorded yet (the account's \"referred by\").")
        counts = dict(Account.objects.active().filter(referred_by__isnull=False).values("referred_by")
                      .annotate(n=Count("id")).values_list("referred_by", "n"))
        for account in accounts_:
            n = counts.get(account.pk, 0)
            out[account.pk] = (analysis.referral_score(n), "referrals", {"n": n})
        return out, ""
    return out, ""  # credit ratings come in through import_credit_ratings()


@transaction.atomic
def refresh_computed_scores(*, by: User, today: datetime.date | None = None) -> Refresh:
    """Recompute every criterion computed from data, writing only what changed (each change kept in the history)."""
    _require_configure(by)
    return recompute_scores(by=by, today=today)


RECOMPUTED = (CriterionSource.REVENUE_TREND, CriterionSource.MARGIN, CriterionSource.CLV,
              CriterionSource.STAKEHOLDER_COVERAGE, CriterionSource.REFERRALS)
REVENUE_SOURCES = (CriterionSource.REVENUE_TREND, CriterionSource.MARGIN, CriterionSource.CLV)


@transaction.atomic
def recompute_scores(*, by: User | None = None, today: datetime.date | None = None, sources=None,
                     account_ids=None) -> Refresh:
    """Recompute the computed criteria of ``sources`` (default: all) for ``account_ids`` (default: all accounts).

    Called by a person (the criteria page, a round), after the data changes (a stakeholder, an
    interaction, a referral saved; an import finished, by the background worker), and by a round
    for whatever is older than its data. Only changed values are written, each change in the
    history; every computed score gets the time it was computed. Where the data gives a score it
    replaces a person's estimate; where it gives none, the estimate stays and a computed score goes.
    """
    today = today or timezone.localdate()
    result = Refresh(skipped={})
    accounts_qs = Account.objects.active().only("pk", "external_id", "name")
    if account_ids is not None:
        accounts_qs = accounts_qs.filter(pk__in=list(account_ids))
    accounts_ = list(accounts_qs)
    in_scope = {a.pk for a in accounts_}
    now = timezone.now()
    criteria = Criterion.objects.active().filter(source__in=[s for s in RECOMPUTED if sources is None or s in sources])
    for criterion in criteria:
        values, message = _computed_values(criterion.source, accounts_, today=today)
        if message:
            result.skipped[criterion.name] = message
            continue
        existing = {s.account_id: s for s in Score.objects.filter(criterion=criterion, account_id__in=in_scope)} \
            if account_ids is not None else {s.account_id: s for s in Score.objects.filter(criterion=criterion)}
        new, changed = [], []
        with translation.override("en"):  # the stored note is English, for programs; pages render the code
            for account_id, (value, code, params) in values.items():
                score = existing.pop(account_id, None)
                if score is None:
                    new.append(Score(account_id=account_id, criterion=criterion, value=value, note=score_note(code, params),
                                     note_code=code, note_params=params, scored_by=None, scored_at=now, computed_at=now))
                elif score.estimate or score.value != value or score.note_code != code or score.note_params != params:
                    # The English note is written only for what changed (formatting it is the costly part of a large run).
                    score.value, score.note, score.scored_by, score.scored_at = value, score_note(code, params), None, now
                    score.note_code, score.note_params = code, params
                    score.estimate, score.computed_at = False, now
                    changed.append(score)
        if new:
            bulk_create_with_history(new, Score, batch_size=500, default_user=by)
        if changed:
            bulk_update_with_history(changed, Score, ["value", "note", "note_code", "note_params", "scored_by", "scored_at",
                                                      "estimate", "computed_at"],
                                     batch_size=500, default_user=by)
        # The data no longer gives a score: a computed one goes, a person's estimate stays.
        stale = [s for s in existing.values() if s.account_id in in_scope and not s.estimate]
        for score in stale:
            score._history_user = by
            score.delete()
        unchanged = Score.objects.filter(criterion=criterion, estimate=False)
        if account_ids is not None:
            unchanged = unchanged.filter(account_id__in=in_scope)
        unchanged.update(computed_at=now)
        Criterion.objects.filter(pk=criterion.pk).update(computed_at=now)  # not a change of the criterion: no history
        result.created += len(new)
        result.updated += len(changed)
        result.removed += len(stale)
    return result


def _latest(*values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


def data_changed_at(source: str) -> datetime.datetime | None:
    """When the data a computed criterion is computed from last changed (None: no data or not known)."""
    from django.db.models import Max

    if source in REVENUE_SOURCES:
        from keyplan.revenue.models import ImportBatch

        times = ImportBatch.objects.aggregate(done=Max("finished_at"), undone=Max("rolled_back_at"))
        return _latest(times["done"], times["undone"])
    if source == CriterionSource.REFERRALS:
        return Account.objects.aggregate(at=Max("updated_at"))["at"]
    if source == CriterionSource.STAKEHOLDER_COVERAGE:
        try:
            from keyplan.relationships.models import Interaction, Stakeholder
        except ImportError:
            return None
        return _latest(Stakeholder.objects.aggregate(at=Max("updated_at"))["at"],
                       Interaction.objects.aggregate(at=Max("updated_at"))["at"])
    return None


def stale_criteria() -> list[Criterion]:
    """Computed criteria with a score computed before the latest change of its data (or never computed)."""
    from django.db.models import Exists, Min, OuterRef

    found = []
    for criterion in Criterion.objects.active().filter(source__in=RECOMPUTED):
        computed = Score.objects.filter(criterion=criterion, estimate=False)
        if criterion.source == CriterionSource.STAKEHOLDER_COVERAGE:
            try:
                from keyplan.relationships.models import Interaction, Stakeholder
            except ImportError:
                continue
            # Per account: a stakeholder or interaction saved after the account's score was computed,
            # or an account with stakeholders and no computed score at all.
            newer = Exists(Stakeholder.objects.filter(account_id=OuterRef("account_id"), updated_at__gt=OuterRef("computed_at"))) | \
                Exists(Interaction.objects.filter(account_id=OuterRef("account_id"), updated_at__gt=OuterRef("computed_at")))
            unscored = Stakeholder.objects.active().filter(account__archived_at__isnull=True).exclude(
                account_id__in=computed.values("account_id"))
            if computed.filter(newer).exists() or computed.filter(computed_at__isnull=True).exists() or unscored.exists():
                found.append(criterion)
            continue
        changed = data_changed_at(criterion.source)
        oldest = computed.aggregate(at=Min("computed_at"))["at"]
        never = not computed.exists() and changed is not None
        if never or (changed is not None and (oldest is None or oldest < changed)):
            found.append(criterion)
    return found


@transaction.atomic
def import_credit_ratings(rows: list[tuple[str, str]], *, by: User) -> int:
    """Credit ratings (external id, rating such as BBB) into every criterion computed from credit ratings.

    All rows are checked first: an unknown account or rating names its row and nothing is written.
    """
    _require_configure(by)
    criteria = list(Criterion.objects.active().filter(source=CriterionSource.CREDIT_RATING))
    if not criteria:
        raise ValidationError({"criterion": _("No active criterion is computed from credit ratings; add Solvency first.")})
    known = dict(Account.objects.filter(external_id__in=[r[0].strip() for r in rows]).values_list("external_id", "pk"))
    errors, parsed = [], []
    for line, (external_id, rating) in enumerate(rows, start=1):
        external_id = (external_id or "").strip()
        score = analysis.credit_rating_score(rating)
        if external_id not in known:
            errors.append(_("row %(line)s: no account has the external id %(id)s") % {"line": line, "id": external_id or "—"})
        elif score is None:
            errors.append(_("row %(line)s: %(rating)s is not a rating from AAA to D") % {"line": line, "rating": rating or "—"})
        else:
            parsed.append((known[external_id], score, rating.strip().upper()))
    if errors:
        raise ValidationError({"credit_rating": errors})
    now = timezone.now()
    for criterion in criteria:
        for account_id, score, rating in parsed:
            current = Score.objects.filter(account_id=account_id, criterion=criterion).first() or Score(
                account_id=account_id, criterion=criterion)
            params = {"rating": rating}
            current.value, current.scored_by, current.scored_at = score, by, now
            current.note, current.note_code, current.note_params = score_note_in_english("credit_rating", params), "credit_rating", params
            current.estimate, current.computed_at = False, now
            current._history_user = by
            current.save()
    return len(parsed)


# ---------------------------------------------------------------- the matrix


def current_scores(account_ids=None) -> dict[int, dict[int, int]]:
    scores = Score.objects.filter(criterion__archived_at__isnull=True)
    if account_ids is not None:
        scores = scores.filter(account_id__in=account_ids)
    out: dict[int, dict[int, int]] = {}
    for account_id, criterion_id, value in scores.values_list("account_id", "criterion_id", "value"):
        out.setdefault(account_id, {})[criterion_id] = value
    return out


def account_rows(queryset: QuerySet[Account]) -> list[dict]:
    return [
        {"id": pk, "external_id": ext, "name": name, "tier": tier, "industry": industry, "country": country}
        for pk, ext, name, tier, industry, country in queryset.values_list(
            "pk", "external_id", "name", "tier", "industry", "country")
    ]


def ranking() -> tuple[list[Criterion], list[dict]]:
    """Every active account ranked on the current scores of the active criteria (ranks are portfolio-wide)."""
    criteria = list(Criterion.objects.active())
    rows = analysis.matrix(specs(criteria), account_rows(Account.objects.active()), current_scores())
    return criteria, rows


# ---------------------------------------------------------------- the ranking kept between requests

RANKING_KEY = "selection-ranking"


@dataclass
class RankingIndex:
    """The portfolio's ranking in a compact form: account ids in rank order (ranked first, then the unranked
    by external id) with their group totals and total (NaN where there is none). Kept in the database cache
    under one key with the fingerprint it was computed at; a page takes the rows it shows from it."""

    fingerprint: str
    ids: array
    growth: array
    harmony: array
    total: array
    ranked: int

    def rank_of(self, position: int) -> int | None:
        return position + 1 if position < self.ranked else None

    def row(self, position: int) -> dict[str, Any]:
        def value(numbers: array) -> float | None:
            number = numbers[position]
            return None if math.isnan(number) else number

        growth, harmony = value(self.growth), value(self.harmony)
        return {"id": self.ids[position], "growth_total": growth, "harmony_total": harmony,
                "total": value(self.total), "rank": self.rank_of(position), "quadrant": analysis.quadrant(growth, harmony)}


def ranking_fingerprint() -> str:
    """The newest change of what the ranking reads: every write of a score, a criterion or an account leaves a
    history row (the services write them, bulk writes included), so the newest history rows say whether
    anything changed. Lookups on the history tables' primary keys: instant at any size."""
    from keyplan.core.db import fetch_rows

    tables = [Score.history.model._meta.db_table, Criterion.history.model._meta.db_table,
              Account.history.model._meta.db_table]
    # The newest row's id and time: ids alone restart after a flush (`keyplan demo --reset`), times do not.
    columns = [f"(SELECT {column} FROM {t} ORDER BY history_id DESC LIMIT 1)" for t in tables
               for column in ("history_id", "history_date")]
    row = fetch_rows("SELECT " + ", ".join(columns), [])[0]
    return "/".join(str(value) for value in row)


def ranking_index() -> RankingIndex:
    """The ranking as of the latest change: from the cache when nothing changed since it was computed,
    computed (and stored for everyone) otherwise."""
    from django.core.cache import cache

    fingerprint = ranking_fingerprint()
    stored = cache.get(RANKING_KEY)
    if isinstance(stored, RankingIndex) and stored.fingerprint == fingerprint:
        return stored
    _criteria, rows = ranking()
    nan = float("nan")

    def numbers(key: str) -> array:
        return array("d", (nan if r[key] is None else r[key] for r in rows))

    index = RankingIndex(fingerprint=fingerprint, ids=array("q", (r["id"] for r in rows)), growth=numbers("growth_total"),
                         harmony=numbers("harmony_total"), total=numbers("total"),
                         ranked=sum(1 for r in rows if r["rank"] is not None))
    cache.set(RANKING_KEY, index, timeout=None)
    return index


def ranked_selection(*, capacity: int) -> dict[str, Any]:
    """Today's proposals (``selection()``), kept in the cache with the ranking's fingerprint and the capacity."""
    from django.core.cache import cache

    key = "selection-proposals:" + hashlib.sha256(f"{ranking_fingerprint()}|{capacity}".encode()).hexdigest()
    result = cache.get(key)
    if result is None:
        result = selection(capacity=capacity)
        cache.set(key, result)
    return result


@dataclass(frozen=True)
class ScoreInfo:
    """Who scored a matrix cell and when, whether as an estimate, when computed (a light row, not a model)."""

    estimate: bool
    scored_at: datetime.datetime
    computed_at: datetime.datetime | None
    note: str
    scored_by: str | None


def attach_score_info(rows: list[dict], criteria: list[Criterion]) -> None:
    """``row["info"]``: criterion id → ScoreInfo for the rows on a page (one query for the page)."""
    ids = [r["id"] for r in rows]
    info: dict[int, dict[int, ScoreInfo]] = {}
    for account_id, criterion_id, estimate, scored_at, computed_at, note, code, params, username, first, last in (
            Score.objects.filter(account_id__in=ids, criterion__in=criteria).values_list(
                "account_id", "criterion_id", "estimate", "scored_at", "computed_at", "note", "note_code", "note_params",
                "scored_by__username", "scored_by__first_name", "scored_by__last_name")):
        who = f"{first} {last}".strip() or username
        note = score_note(code, params) or note  # Keyplan's note in the reader's language, a person's as written
        info.setdefault(account_id, {})[criterion_id] = ScoreInfo(estimate, scored_at, computed_at, note, who)
    for row in rows:
        row["info"] = info.get(row["id"], {})


def scores_payload(user: User | None, *, account_ids=None) -> dict[str, Any]:
    """`GET /api/v1/analysis/scores` and `keyplan analyze scores --json`: every account the user may see
    (every account for None: the operator at the shell)."""
    criteria, rows = ranking()
    accounts = Account.objects.all() if user is None else Account.objects.visible_to(user)
    visible = set(accounts.active().values_list("pk", flat=True))
    if account_ids is not None:
        visible &= set(account_ids)
    by_id = {str(c.pk): c for c in criteria}
    estimates: dict[int, list[str]] = {}
    for account_id, criterion_id in Score.objects.filter(estimate=True, criterion__in=criteria).values_list(
            "account_id", "criterion_id"):
        estimates.setdefault(account_id, []).append(by_id[str(criterion_id)].name)
    return {
        "criteria": [{"id": c.pk, "name": c.name, "group": c.group, "weight": float(c.weight), "source": c.source}
                     for c in criteria],
        "formula": "group total = Σ(weight × score) / Σ weight over the scored criteria of the group; "
                   "total = mean of the two group totals; two decimals",
        "ranked": sum(1 for r in rows if r["rank"] is not None),
        "accounts": [
            {"account_id": r["id"], "external_id": r["external_id"], "name": r["name"], "tier": r["tier"],
             "scores": {by_id[k].name: v for k, v in r["scores"].items()},
             "growth_total": r["growth_total"], "harmony_total": r["harmony_total"], "total": r["total"],
             "rank": r["rank"], "quadrant": r["quadrant"], "missing": r["missing"],
             "estimates": sorted(estimates.get(r["id"], []))}
            for r in rows if r["id"] in visible
        ],
    }


# ---------------------------------------------------------------- capacity and rounds


@dataclass
class Capacity:
    kams: list[User]
    total: int

    @property
    def kam_count(self) -> int:
        return len(self.kams)


def program_capacity() -> Capacity:
    """How many key accounts the program can carry: the sum of the capacities of everyone who is a KAM."""
    kams = list(User.objects.filter(
        is_active=True, team_memberships__role=TeamRole.KAM, team_memberships__account__archived_at__isnull=True,
    ).distinct().order_by("username"))
    return Capacity(kams, sum(k.capacity for k in kams))


def selection(*, capacity: int | None = None) -> dict[str, Any]:
    """Today's proposals from the current scores (nothing written)."""
    criteria, rows = ranking()
    cap = program_capacity().total if capacity is None else capacity
    return analysis.propose(rows, specs(criteria), capacity=cap)


@transaction.atomic
def create_round(*, by: User, name: str, date: datetime.date | None = None, notes: str = "",
                 refresh: bool = True, capacity: int | None = None) -> SelectionRound:
    """Freeze today's criteria, weights and scores as a dated round, and propose key accounts from its ranking.

    ``refresh``: recompute every computed score first; without it, only the criteria whose data changed
    since their scores were computed. Proposals of earlier rounds that are still undecided are marked superseded."""
    _require_configure(by)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Name the round, e.g. FY2026.")})
    if SelectionRound.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": _("A round named %(name)s already exists.") % {"name": name}})
    if capacity is not None and capacity < 0:
        raise ValidationError({"capacity": _("Capacity cannot be below 0.")})
    # A round never freezes a score computed from data older than the data's latest change.
    if refresh:
        recompute_scores(by=by, today=date)
    else:
        stale = {c.source for c in stale_criteria()}
        if stale:
            recompute_scores(by=by, today=date, sources=stale)
    criteria, rows = ranking()
    if not criteria:
        raise ValidationError({"name": _("Set up the criteria first: a round freezes their scores.")})
    cap = program_capacity()
    result = analysis.propose(rows, specs(criteria), capacity=cap.total if capacity is None else capacity)
    selection_round = SelectionRound.objects.create(
        name=name, date=date or timezone.localdate(), notes=(notes or "").strip(), capacity=result["capacity"],
        kam_count=cap.kam_count, cutoff=result["cutoff"], created_by=by)
    RoundCriterion.objects.bulk_create([
        RoundCriterion(round=selection_round, criterion=c, name=c.name, group=c.group, weight=c.weight, source=c.source)
        for c in criteria])
    RoundScore.objects.bulk_create([
        RoundScore(round=selection_round, account_id=r["id"], criterion_id=int(k), value=v)
        for r in rows for k, v in r["scores"].items() if v is not None], batch_size=1000)
    RoundAccount.objects.bulk_create([
        RoundAccount(round=selection_round, account_id=r["id"], growth_total=r["growth_total"],
                     harmony_total=r["harmony_total"], total=r["total"], rank=r["rank"], tier=r["tier"])
        for r in rows], batch_size=1000)
    # Proposals of earlier rounds still open were made on older scores: this round's ranking replaces them.
    Proposal.objects.filter(status=ProposalStatus.PENDING).update(
        status=ProposalStatus.SUPERSEDED, decided_by=by, decided_at=timezone.now(),
        decision_code="superseded", decision_params={"round": name})
    Proposal.objects.bulk_create([
        Proposal(round=selection_round, account_id=p["account_id"], action=p["action"], from_tier=p["from_tier"],
                 to_tier=p["to_tier"], rank=p["rank"], total=p["total"], explanation=p["explanation"])
        for p in result["proposals"]])
    return selection_round


def round_summary(selection_round: SelectionRound) -> dict[str, Any]:
    key_now = Account.objects.active().filter(tier=Tier.KEY).count()
    return {"capacity": selection_round.capacity, "key_accounts": key_now,
            "over_capacity": key_now > selection_round.capacity, "cutoff": selection_round.cutoff}


def _check_effective(effective_date) -> datetime.date:
    if effective_date is None:
        return timezone.localdate()
    if isinstance(effective_date, str):
        try:
            return datetime.date.fromisoformat(effective_date)
        except ValueError:
            raise ValidationError({"effective_date": _("Give the date as YYYY-MM-DD.")}) from None
    return effective_date


@transaction.atomic
def accept_proposal(proposal: Proposal, *, by: User, reason: str = "",
                    effective_date: datetime.date | None = None) -> Proposal:
    """Accept: the key status changes through the tier history. Scaling back asks for a reason and a date."""
    _require_configure(by)
    proposal = Proposal.objects.select_for_update().select_related("account", "round").get(pk=proposal.pk)
    if proposal.status != ProposalStatus.PENDING:
        raise ValidationError({"status": _("This proposal has been decided already (%(status)s).") % {"status": proposal.get_status_display()}})
    reason = (reason or "").strip()
    if proposal.action == ProposalAction.DEMOTE:
        errors = {}
        if not reason:
            errors["reason"] = _("Say why this key account is scaled back; the customer will ask.")
        if effective_date is None:
            errors["effective_date"] = _("Give the date from which the account is no longer a key account.")
        if errors:
            raise ValidationError(errors)
    effective = _check_effective(effective_date)
    code, params = "", {}
    if not reason:
        explanation = proposal.explanation or {}
        code, params = "selected", {
            "round": proposal.round.name, "rank": proposal.rank, "total": str(proposal.total) if proposal.total is not None else None,
            "cutoff": explanation.get("cutoff"), "carried": ", ".join(c["name"] for c in explanation.get("carried_by", []))}
        reason = tier_reason_in_english(code, params)  # the text for programs; pages render the code in the reader's language
    account = Account.objects.get(pk=proposal.account_id)
    if account.tier != proposal.to_tier:
        accounts.set_tier(account, by=by, tier=proposal.to_tier, reason=reason, effective_date=effective,
                          reason_code=code, reason_params=params)
    proposal.status, proposal.decided_by, proposal.decided_at = ProposalStatus.ACCEPTED, by, timezone.now()
    proposal.decision_reason = "" if code else reason
    proposal.decision_code, proposal.decision_params, proposal.effective_date = code, params, effective
    proposal.save()
    return proposal


@transaction.atomic
def reject_proposal(proposal: Proposal, *, by: User, reason: str = "") -> Proposal:
    _require_configure(by)
    proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != ProposalStatus.PENDING:
        raise ValidationError({"status": _("This proposal has been decided already (%(status)s).") % {"status": proposal.get_status_display()}})
    proposal.status, proposal.decided_by, proposal.decided_at = ProposalStatus.REJECTED, by, timezone.now()
    proposal.decision_reason = (reason or "").strip()
    proposal.save()
    return proposal


# ---------------------------------------------------------------- settings and reviews


def scoring_settings() -> ScoringSettings:
    settings_, created = ScoringSettings.objects.get_or_create(pk=1)
    if created:
        settings_.refresh_from_db()  # the defaults as stored (12000.00, not the model's 12000)
    return settings_


@transaction.atomic
def update_settings(*, by: User, review_cadence: str | None = None, team_cost_per_member=None) -> ScoringSettings:
    _require_configure(by)
    current = ScoringSettings.objects.select_for_update().get(pk=scoring_settings().pk)
    if review_cadence is not None:
        if review_cadence not in Cadence.values:
            raise ValidationError({"review_cadence": _("Choose monthly or quarterly.")})
        current.review_cadence = review_cadence
    if team_cost_per_member is not None:
        try:
            cost = Decimal(str(team_cost_per_member))
        except InvalidOperation:
            cost = Decimal(-1)
        if not cost.is_finite() or cost < 0:
            raise ValidationError({"team_cost_per_member": _("The cost is a number of 0 or more.")})
        current.team_cost_per_member = cost
    current._history_user = by
    current.save()
    return current


def _month(day: datetime.date, months: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def next_review_due() -> datetime.date | None:
    last = Review.objects.order_by("-as_of").first()
    if last is None:
        return None
    step = 1 if scoring_settings().review_cadence == Cadence.MONTHLY else 3
    return _add_months_keep_day(last.as_of, step)


def _add_months_keep_day(day: datetime.date, months: int) -> datetime.date:
    first = _month(day, months)
    last_day = (_month(first, 1) - datetime.timedelta(days=1)).day
    return first.replace(day=min(day.day, last_day))


def latest_round(as_of: datetime.date | None = None) -> SelectionRound | None:
    """The round a review judges unless told otherwise: the latest one taken on or before ``as_of``."""
    rounds = SelectionRound.objects.all()
    if as_of is not None:
        rounds = rounds.filter(date__lte=as_of)
    return rounds.order_by("-date", "-pk").first()


def review_findings(*, user: User, as_of: datetime.date, selection_round: SelectionRound | None) -> dict[str, Any]:
    """Rising accounts, underperforming key accounts and whether the criteria paid off (nothing written)."""
    from keyplan.revenue import portfolio

    anchor = _month(selection_round.date) if selection_round else _month(as_of, -11)
    months = (as_of.year * 12 + as_of.month) - (anchor.year * 12 + anchor.month)  # whole months before as_of's month
    too_early = selection_round is not None and months < 1
    if months < 1:
        anchor, months = _month(as_of, -12), 12
    months = min(months, 12)
    after = portfolio.Period(anchor, _month(anchor, months) - datetime.timedelta(days=1))
    before = portfolio.Period(_month(anchor, -months), anchor - datetime.timedelta(days=1))
    scope = portfolio.Scope(user)
    rev_after = {r["external_id"]: r for r in portfolio.revenue_by_account(scope, after).to_dicts()}
    rev_before = {r["external_id"]: r for r in portfolio.revenue_by_account(scope, before).to_dicts()}
    team = dict(TeamMember.objects.filter(account__archived_at__isnull=True).values("account_id")
                .annotate(n=Count("id")).values_list("account_id", "n"))
    criteria, current = ranking()
    current_by_id = {r["id"]: r for r in current}
    round_scores: dict[int, dict[int, int]] = {}
    round_accounts: dict[int, RoundAccount] = {}
    round_specs: list[analysis.CriterionSpec] = []
    if selection_round is not None:
        for account_id, criterion_id, value in selection_round.scores.values_list("account_id", "criterion_id", "value"):
            round_scores.setdefault(account_id, {})[criterion_id] = value
        round_accounts = {ra.account_id: ra for ra in selection_round.accounts.all()}
        round_specs = [analysis.CriterionSpec(rc.criterion_id, rc.name, rc.group, Decimal(rc.weight))
                       for rc in selection_round.criteria.all()]
    outcomes = []
    for account in Account.objects.visible_to(user).active().only("pk", "external_id", "name", "tier"):
        a, b = rev_after.get(account.external_id, {}), rev_before.get(account.external_id, {})
        ra = round_accounts.get(account.pk)
        cur = current_by_id.get(account.pk, {})
        outcomes.append(analysis.Outcome(
            id=account.pk, external_id=account.external_id, name=account.name, tier=account.tier,
            revenue_before=b.get("revenue", 0.0), revenue_after=a.get("revenue", 0.0), cost_before=b.get("cost", 0.0),
            cost_after=a.get("cost", 0.0), team_size=team.get(account.pk, 0),
            round_total=float(ra.total) if ra and ra.total is not None else None,
            round_rank=ra.rank if ra else None, round_scores=round_scores.get(account.pk, {}),
            current_total=cur.get("total"), current_rank=cur.get("rank")))
    cap = program_capacity().total
    proposals = analysis.propose(current, specs(criteria), capacity=cap)
    revenues = sorted(o.revenue_after for o in outcomes if o.revenue_after > 0)
    min_revenue = revenues[len(revenues) // 2] if revenues else 0.0
    cost = float(scoring_settings().team_cost_per_member)
    payoff = None
    if selection_round is not None and not too_early:
        payoff = analysis.criteria_payoff([o for o in outcomes if o.id in round_accounts], round_specs)
    return {
        "as_of": as_of.isoformat(),
        "round": {"id": selection_round.pk, "name": selection_round.name, "date": selection_round.date.isoformat()}
        if selection_round else None,
        "too_early": too_early,
        "window": {"months": months, "before": [before.start.isoformat(), before.end.isoformat()],
                   "after": [after.start.isoformat(), after.end.isoformat()]},
        "capacity": cap, "cutoff": proposals["cutoff"], "key_accounts": proposals["key_accounts"],
        "over_capacity": proposals["over_capacity"],
        "rising": analysis.rising_accounts(outcomes, cutoff=proposals["cutoff"], min_revenue=min_revenue),
        "underperforming": analysis.underperforming_key_accounts(outcomes, team_cost_per_member=cost, years=months / 12),
        "payoff": payoff,
        "team_cost_per_member": cost,
    }


@transaction.atomic
def run_review(*, by: User, as_of: datetime.date | None = None, selection_round: SelectionRound | None = None,
               notes: str = "") -> Review:
    """Run and save a review of key status: its findings stay as they were found, decisions are added to it."""
    _require_configure(by)
    as_of = as_of or timezone.localdate()
    if selection_round is None:
        selection_round = latest_round(as_of)
    findings = review_findings(user=by, as_of=as_of, selection_round=selection_round)
    return Review.objects.create(round=selection_round, as_of=as_of, cadence=scoring_settings().review_cadence,
                                 findings=findings, notes=(notes or "").strip(), created_by=by)


@transaction.atomic
def record_decision(review: Review, *, by: User, account: Account, action: str, note: str = "",
                    effective_date: datetime.date | None = None) -> ReviewDecision:
    """A decision taken in a review; promoting or scaling back changes the key status with the review as its reason."""
    _require_configure(by)
    if action not in DecisionAction.values:
        raise ValidationError({"action": _("Choose one of: %(choices)s.") % {"choices": ", ".join(DecisionAction.values)}})
    note = (note or "").strip()
    account = Account.objects.get(pk=account.pk)
    if action == DecisionAction.DEMOTE:
        errors = {}
        if not note:
            errors["note"] = _("Say why this key account is scaled back; the customer will ask.")
        if effective_date is None:
            errors["effective_date"] = _("Give the date from which the account is no longer a key account.")
        if errors:
            raise ValidationError(errors)
        if account.tier != Tier.KEY:
            raise ValidationError({"action": _("%(name)s is not a key account.") % {"name": account.name}})
    if action == DecisionAction.PROMOTE and account.tier == Tier.KEY:
        raise ValidationError({"action": _("%(name)s is already a key account.") % {"name": account.name}})
    effective = _check_effective(effective_date)
    if action in (DecisionAction.PROMOTE, DecisionAction.DEMOTE):
        # Without a note, Keyplan writes the reason: stored as a code, read in each reader's language.
        code, params = ("", {}) if note else ("review_promoted", {"date": review.as_of.isoformat()})
        reason = note or tier_reason_in_english(code, params)
        accounts.set_tier(account, by=by, tier=Tier.KEY if action == DecisionAction.PROMOTE else Tier.CANDIDATE,
                          reason=reason, effective_date=effective, reason_code=code, reason_params=params)
    return ReviewDecision.objects.create(review=review, account=account, action=action, note=note, decided_by=by)


# ---------------------------------------------------------------- one account


def account_card(account: Account) -> dict[str, Any]:
    """An account's scores with their history and its rank, for its page."""
    criteria = list(Criterion.objects.active())
    index = ranking_index()
    try:
        row = index.row(index.ids.index(account.pk))
    except ValueError:  # archived
        row = None
    scores = {s.criterion_id: s for s in Score.objects.filter(account=account).select_related("scored_by")}
    history = (Score.history.filter(account_id=account.pk).select_related("history_user")
               .order_by("-history_date", "-history_id")[:50])
    names = {c.pk: c.label for c in Criterion.objects.all()}
    return {
        "criteria": [(c, scores.get(c.pk)) for c in criteria],
        "row": row,
        "ranked": index.ranked,
        "history": [{"when": h.history_date, "criterion": names.get(h.criterion_id, "—"), "value": h.value,
                     "note": score_note(h.note_code, h.note_params) or h.note, "who": _("computed from data") if h.scored_by_id is None else str(h.history_user or "—"),
                     "removed": h.history_type == "-"} for h in history],
    }


def matrix_rows(index: RankingIndex, positions: list[int]) -> list[dict]:
    """The full rows of the matrix at ``positions`` of the ranking: name, key status and scores from the database (a
    page of the matrix, or a chunk of its CSV and live feed)."""
    ids = [index.ids[p] for p in positions]
    accounts = {row["id"]: row for row in account_rows(Account.objects.filter(pk__in=ids))}
    scores = current_scores(ids)
    rows = []
    for position, pk in zip(positions, ids, strict=True):
        row = {**accounts[pk], **index.row(position)}
        row["scores"] = {str(k): v for k, v in scores.get(pk, {}).items()}
        rows.append(row)
    return rows


def matrix_positions(user: User) -> tuple[RankingIndex, list[int]]:
    """The ranking and its positions of the active accounts ``user`` may see, in rank order (the unfiltered matrix)."""
    index = ranking_index()
    keep = set(Account.objects.visible_to(user).active().values_list("pk", flat=True))
    return index, [p for p, pk in enumerate(index.ids) if pk in keep]
