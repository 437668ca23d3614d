"""What may happen in key-account selection: criteria, scores, rounds, proposals, reviews.

Every write is one function: it checks permission, validates, writes inside one
transaction and leaves history (who, when, why). Views, the API, the CLI and the
demo generator all go through here; the computations are in ``analysis.py``.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from keyplan.accounts import services as accounts
from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from keyplan.core.models import User
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
)

# The library of suggested criteria a KAM lead picks from, in English; a criterion taken from it is
# named and described in the language of whoever takes it.
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
    {"key": "channel_partner", "name": gettext_noop("Potential as a channel partner"), "group": CriterionGroup.GROWTH,
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
    if key not in SUGGESTED_BY_KEY:
        raise ValidationError({"key": _("Choose one of the suggested criteria: %(keys)s.") % {"keys": ", ".join(SUGGESTED_BY_KEY)}})
    s = SUGGESTED_BY_KEY[key]
    return create_criterion(by=by, name=_(s["name"]), group=s["group"], weight=weight, description=_(s["description"]),
                            source=s["source"])


@transaction.atomic
def update_criterion(criterion: Criterion, *, by: User, changes: dict) -> Criterion:
    _require_configure(by)
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    if criterion.is_archived:
        raise ValidationError({"name": _("This criterion is archived; restore it first.")})
    changes = _clean_criterion(dict(changes), exclude_pk=criterion.pk)
    changed = {k: v for k, v in changes.items() if getattr(criterion, k) != v}
    if not changed:
        return criterion
    for name, value in changed.items():
        setattr(criterion, name, value)
    criterion._history_user = by
    criterion.save()
    return criterion


@transaction.atomic
def remove_criterion(criterion: Criterion, *, by: User) -> str:
    """Delete a criterion no round used; archive one that past rounds used (they keep their numbers).

    Returns "deleted" or "archived".
    """
    _require_configure(by)
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    criterion._history_user = by
    if RoundCriterion.objects.filter(criterion=criterion).exists():
        if criterion.archived_at is None:
            criterion.archived_at = timezone.now()
            criterion.save(update_fields=["archived_at"])
        return "archived"
    criterion.delete()
    return "deleted"


@transaction.atomic
def restore_criterion(criterion: Criterion, *, by: User) -> Criterion:
    _require_configure(by)
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    if criterion.archived_at is not None:
        if Criterion.objects.active().filter(name__iexact=criterion.name).exists():
            raise ValidationError({"name": _("An active criterion is already named %(name)s.") % {"name": criterion.name}})
        criterion.archived_at = None
        criterion._history_user = by
        criterion.save(update_fields=["archived_at"])
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
    """Score one account on one criterion scored by people; the earlier score stays in the history."""
    if not can_score(by, account):
        raise PermissionDenied(_("You may not score this account."))
    number = _check_value(value)
    criterion = Criterion.objects.get(pk=criterion.pk)
    if criterion.is_archived:
        raise ValidationError({"criterion": _("%(name)s is archived; it is no longer scored.") % {"name": criterion.name}})
    if criterion.is_computed:
        raise ValidationError({"criterion": _("%(name)s is computed from data; it cannot be scored by hand.")
                               % {"name": criterion.name}})
    Account.objects.select_for_update().filter(pk=account.pk).first()
    score = Score.objects.filter(account=account, criterion=criterion).first()
    note = (note or "").strip()
    if score is None:
        score = Score(account=account, criterion=criterion)
    elif score.value == number and score.note == note:
        return score
    score.value, score.note, score.scored_by, score.scored_at = number, note, by, timezone.now()
    score._history_user = by
    score.save()
    return score


@dataclass
class Refresh:
    created: int = 0
    updated: int = 0
    removed: int = 0
    skipped: dict | None = None


def _computed_values(source: str, accounts_: list[Account], *, today: datetime.date, user: User) -> tuple[dict[int, tuple[int, str]], str]:
    """account id → (score, note) for a computed criterion, and a message when the data is missing."""
    from keyplan.revenue import portfolio

    scope = portfolio.Scope(user)
    ids = {a.external_id: a.pk for a in accounts_}
    out: dict[int, tuple[int, str]] = {}
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
                    change = f"{now / then - 1:+.0%}" if then > 0 else _("new revenue")
                    out[pk] = (score, _("Revenue last 12 months %(now)s against %(then)s before (%(change)s).")
                               % {"now": f"{now:,.0f}", "then": f"{then:,.0f}", "change": change})
        else:
            for ext, pk in ids.items():
                row = rows.get(ext)
                if row is None:
                    continue
                score = analysis.margin_score(row["revenue"], row["cost"])
                if score is not None:
                    out[pk] = (score, _("Margin %(pct).1f %% over the last 12 months.")
                               % {"pct": (row["revenue"] - row["cost"]) / row["revenue"] * 100})
        return out, ""
    if source == CriterionSource.CLV:
        try:
            payload = portfolio.run("clv", scope, portfolio.Options(as_of=today))
        except (ValueError, ArithmeticError) as error:
            return out, _("Lifetime value could not be computed: %(error)s") % {"error": error}
        values = {a["external_id"]: a["clv"] for a in payload["accounts"] if a["external_id"] in ids}
        for ext, score in analysis.decile_scores(values).items():
            out[ids[ext]] = (score, _("Lifetime value %(clv)s over 12 months (decile %(score)s).")
                             % {"clv": f"{values[ext]:,.0f}", "score": score})
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
            out[account.pk] = (analysis.coverage_score(contacts),
                               _("%(n)s stakeholders on the map.") % {"n": len(contacts)})
        return out, ""
    return out, ""  # credit ratings come in through import_credit_ratings()


@transaction.atomic
def refresh_computed_scores(*, by: User, today: datetime.date | None = None) -> Refresh:
    """Recompute every criterion computed from data, writing only what changed (each change kept in the history)."""
    _require_configure(by)
    today = today or timezone.localdate()
    result = Refresh(skipped={})
    accounts_ = list(Account.objects.active().only("pk", "external_id", "name"))
    now = timezone.now()
    for criterion in Criterion.objects.active().exclude(source__in=[CriterionSource.MANUAL, CriterionSource.CREDIT_RATING]):
        values, message = _computed_values(criterion.source, accounts_, today=today, user=by)
        if message:
            result.skipped[criterion.name] = message
            continue
        existing = {s.account_id: s for s in Score.objects.filter(criterion=criterion)}
        new, changed = [], []
        for account_id, (value, note) in values.items():
            score = existing.pop(account_id, None)
            if score is None:
                new.append(Score(account_id=account_id, criterion=criterion, value=value, note=note, scored_by=None, scored_at=now))
            elif score.value != value or score.note != note:
                score.value, score.note, score.scored_by, score.scored_at = value, note, None, now
                changed.append(score)
        if new:
            bulk_create_with_history(new, Score, batch_size=500, default_user=by)
        if changed:
            bulk_update_with_history(changed, Score, ["value", "note", "scored_by", "scored_at"], batch_size=500,
                                     default_user=by)
        stale = [s for s in existing.values() if s.account_id in {a.pk for a in accounts_}]
        for score in stale:  # the data no longer gives a score
            score._history_user = by
            score.delete()
        result.created += len(new)
        result.updated += len(changed)
        result.removed += len(stale)
    return result


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
            current.value, current.note, current.scored_by, current.scored_at = score, _("Credit rating %(r)s") % {"r": rating}, by, now
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


def _account_rows(queryset: QuerySet[Account]) -> list[dict]:
    return [
        {"id": pk, "external_id": ext, "name": name, "tier": tier, "industry": industry, "country": country}
        for pk, ext, name, tier, industry, country in queryset.values_list(
            "pk", "external_id", "name", "tier", "industry", "country")
    ]


def ranking() -> tuple[list[Criterion], list[dict]]:
    """Every active account ranked on the current scores of the active criteria (ranks are portfolio-wide)."""
    criteria = list(Criterion.objects.active())
    rows = analysis.matrix(specs(criteria), _account_rows(Account.objects.active()), current_scores())
    return criteria, rows


def scores_payload(user: User, *, account_ids=None) -> dict[str, Any]:
    """`GET /api/v1/analysis/scores` and `keyplan analyze scores --json`: every account the user may see."""
    criteria, rows = ranking()
    visible = set(Account.objects.visible_to(user).active().values_list("pk", flat=True))
    if account_ids is not None:
        visible &= set(account_ids)
    by_id = {str(c.pk): c for c in criteria}
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
             "rank": r["rank"], "quadrant": r["quadrant"], "missing": r["missing"]}
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

    Proposals of earlier rounds that are still undecided are marked superseded."""
    _require_configure(by)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Name the round, e.g. FY2026.")})
    if SelectionRound.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": _("A round named %(name)s already exists.") % {"name": name}})
    if capacity is not None and capacity < 0:
        raise ValidationError({"capacity": _("Capacity cannot be below 0.")})
    if refresh:
        refresh_computed_scores(by=by, today=date)
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
        decision_reason=_("Superseded by round %(round)s.") % {"round": name})
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
    if not reason:
        explanation = proposal.explanation or {}
        carried = ", ".join(c["name"] for c in explanation.get("carried_by", [])) or "—"
        reason = _("Selected in round %(round)s: rank %(rank)s, total %(total)s (cut-off %(cutoff)s); carried by %(carried)s.") % {
            "round": proposal.round.name, "rank": proposal.rank, "total": proposal.total,
            "cutoff": explanation.get("cutoff"), "carried": carried}
    account = Account.objects.get(pk=proposal.account_id)
    if account.tier != proposal.to_tier:
        accounts.set_tier(account, by=by, tier=proposal.to_tier, reason=reason, effective_date=effective)
    proposal.status, proposal.decided_by, proposal.decided_at = ProposalStatus.ACCEPTED, by, timezone.now()
    proposal.decision_reason, proposal.effective_date = reason, effective
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


def _previous_round(as_of: datetime.date) -> SelectionRound | None:
    rounds = SelectionRound.objects.filter(date__lte=as_of)
    return rounds.filter(date__lte=as_of - datetime.timedelta(days=28)).first() or rounds.first()


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
        selection_round = _previous_round(as_of)
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
        reason = note or _("Promoted in the review of %(date)s.") % {"date": review.as_of.isoformat()}
        accounts.set_tier(account, by=by, tier=Tier.KEY if action == DecisionAction.PROMOTE else Tier.CANDIDATE,
                          reason=reason, effective_date=effective)
    return ReviewDecision.objects.create(review=review, account=account, action=action, note=note, decided_by=by)


# ---------------------------------------------------------------- one account


def account_card(account: Account) -> dict[str, Any]:
    """An account's scores with their history and its rank, for its page."""
    criteria, rows = ranking()
    row = next((r for r in rows if r["id"] == account.pk), None)
    scores = {s.criterion_id: s for s in Score.objects.filter(account=account).select_related("scored_by")}
    history = (Score.history.filter(account_id=account.pk).select_related("history_user")
               .order_by("-history_date", "-history_id")[:50])
    names = {c.pk: c.name for c in Criterion.objects.all()}
    return {
        "criteria": [(c, scores.get(c.pk)) for c in criteria],
        "row": row,
        "ranked": sum(1 for r in rows if r["rank"] is not None),
        "history": [{"when": h.history_date, "criterion": names.get(h.criterion_id, "—"), "value": h.value,
                     "note": h.note, "who": _("computed from data") if h.scored_by_id is None else str(h.history_user or "—"),
                     "removed": h.history_type == "-"} for h in history],
    }
