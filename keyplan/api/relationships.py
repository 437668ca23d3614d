"""/api/v1/accounts/{id}/stakeholders/, /influence-lines/, /interactions/, /who-to-win, /map.svg and friends.

The same services and analyses as the pages. An account outside the user's reach
is a 404; a write the user may not make is a 403; bad input is a 422 naming the field.
"""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Status
from ninja.errors import ValidationError as SchemaValidationError
from ninja.pagination import paginate

from keyplan.accounts.models import Account
from keyplan.accounts.schemas import LogEntryOut
from keyplan.api.errors import CONFLICT_SHAPES, validation_detail
from keyplan.api.gates import gate, requires
from keyplan.api.lookups import require_edit
from keyplan.core.models import User
from keyplan.core.pagination import LimitOffset
from keyplan.core.schemas import VersionConflictOut
from keyplan.core.versions import version_from
from keyplan.relationships import analysis, services
from keyplan.relationships.filters import InteractionFilter, StakeholderFilter
from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder
from keyplan.relationships.schemas import (
    GapsOut,
    InfluenceLineIn,
    InfluenceLineOut,
    InfluenceLinePatch,
    InteractionIn,
    InteractionOut,
    InteractionPage,
    InteractionPatch,
    InteractionQuery,
    RemovalOut,
    StakeholderIn,
    StakeholderOut,
    StakeholderPatch,
    StakeholderQuery,
    StalePage,
    StaleQuery,
    StaleSettingsOut,
    StaleSettingsPatch,
    TargetOut,
)

router = Router(tags=["relationships"])
ACCOUNT = "/accounts/{account_id}"


def _account(request, account_id: int) -> Account:
    return get_object_or_404(Account.objects.visible_to(request.user), pk=account_id)


def _editable(request, account_id: int) -> Account:
    """The account for a write: 404 outside one's reach, 403 for those who may not change it, before any
    id in the body is looked up (a viewer is refused, not told which stakeholder ids exist)."""
    account = _account(request, account_id)
    require_edit(request.user, account)
    return account


def _form_errors(form, location: str = "query") -> SchemaValidationError:
    return SchemaValidationError(validation_detail(ValidationError(form.errors.as_data()), location))


def _query_dict(query) -> dict:
    return {k: v for k, v in query.dict().items() if v is not None and v is not False}


def _stakeholder_ref(request, field: str, pk: int | None) -> Stakeholder | None:
    """A stakeholder by id among those the user may see (the service then checks it is of this account)."""
    if pk is None:
        return None
    person = Stakeholder.objects.visible_to(request.user).select_related("account").filter(pk=pk).first()
    if person is None:
        raise ValidationError({field: f"No stakeholder has id {pk}."})
    return person


def _user_ref(field: str, pk: int | None) -> User | None:
    if pk is None:
        return None
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise ValidationError({field: f"No user has id {pk}."})
    return user


def _conflict_shape(person: Stakeholder) -> dict:
    return StakeholderOut.from_orm(_with_contact(person.account, person.pk)).model_dump(mode="json")


CONFLICT_SHAPES[Stakeholder] = _conflict_shape
CONFLICT_SHAPES[InfluenceLine] = lambda line: InfluenceLineOut.from_orm(line).model_dump(mode="json")
CONFLICT_SHAPES[Interaction] = lambda interaction: InteractionOut.from_orm(
    _one_interaction(interaction.account, interaction.pk)).model_dump(mode="json")


def _with_contact(account: Account, pk: int) -> Stakeholder:
    return (
        Stakeholder.objects.filter(account=account).with_contact(timezone.localdate())
        .select_related("owner").get(pk=pk)
    )


# ---------------------------------------------------------------- stakeholders


@router.get(ACCOUNT + "/stakeholders/", response=list[StakeholderOut], summary="List an account's stakeholders")
@paginate(LimitOffset)
def list_stakeholders(request, account_id: int, filters: Query[StakeholderQuery]):
    account = _account(request, account_id)
    form = StakeholderFilter(_query_dict(filters))
    if not form.is_valid():
        raise _form_errors(form)
    stakeholders = form.apply(Stakeholder.objects.filter(account=account), today=timezone.localdate()).select_related("owner")
    if filters.key_contact is False:  # false means "the others", not "no filter"
        stakeholders = stakeholders.filter(is_key_contact=False)
    return stakeholders


def _stakeholder_data(request, data: dict) -> dict:
    if "reports_to_id" in data:
        data["reports_to"] = _stakeholder_ref(request, "reports_to_id", data.pop("reports_to_id"))
    if "owner_id" in data:
        data["owner"] = _user_ref("owner_id", data.pop("owner_id"))
    return data


@router.post(ACCOUNT + "/stakeholders/", response={201: StakeholderOut}, summary="Add a stakeholder")
def create_stakeholder(request, account_id: int, payload: StakeholderIn):
    account = _editable(request, account_id)
    person = services.create_stakeholder(account, by=request.user, data=_stakeholder_data(request, payload.dict()))
    return Status(201, _with_contact(account, person.pk))


def _stakeholder(request, account_id: int, stakeholder_id: int) -> tuple[Account, Stakeholder]:
    account = _account(request, account_id)
    return account, get_object_or_404(Stakeholder.objects.select_related("account"), pk=stakeholder_id, account=account)


@router.get(ACCOUNT + "/stakeholders/{stakeholder_id}", response=StakeholderOut, summary="One stakeholder")
def get_stakeholder(request, account_id: int, stakeholder_id: int):
    account, person = _stakeholder(request, account_id, stakeholder_id)
    return _with_contact(account, person.pk)


@router.patch(ACCOUNT + "/stakeholders/{stakeholder_id}", response={200: StakeholderOut, 409: VersionConflictOut}, summary="Change a stakeholder")
def patch_stakeholder(request, account_id: int, stakeholder_id: int, payload: StakeholderPatch):
    account, person = _stakeholder(request, account_id, stakeholder_id)
    require_edit(request.user, account)
    changes = payload.dict(exclude_unset=True)
    version = version_from(request, changes.pop("version", None))
    services.update_stakeholder(person, by=request.user, changes=_stakeholder_data(request, changes), version=version)
    return _with_contact(account, person.pk)


@router.delete(ACCOUNT + "/stakeholders/{stakeholder_id}", response={200: RemovalOut, 409: VersionConflictOut},
               summary="Remove a stakeholder (archived instead when the interaction log names them)")
def remove_stakeholder(request, account_id: int, stakeholder_id: int, version: int | None = None):
    _, person = _stakeholder(request, account_id, stakeholder_id)
    removal = services.remove_stakeholder(person, by=request.user, version=version_from(request, version))
    return {"id": stakeholder_id, "archived": removal.archived}


@router.post(ACCOUNT + "/stakeholders/{stakeholder_id}/restore", response=StakeholderOut, summary="Restore an archived stakeholder")
def restore_stakeholder(request, account_id: int, stakeholder_id: int):
    account, person = _stakeholder(request, account_id, stakeholder_id)
    services.restore_stakeholder(person, by=request.user)
    return _with_contact(account, person.pk)


@router.get(ACCOUNT + "/stakeholders/{stakeholder_id}/history", response=list[LogEntryOut],
            summary="Changes to a stakeholder and their influence lines")
@paginate(LimitOffset)
def stakeholder_history(request, account_id: int, stakeholder_id: int):
    account, person = _stakeholder(request, account_id, stakeholder_id)
    return services.change_log(account, stakeholder=person, limit=None)


# ---------------------------------------------------------------- influence lines


@router.get(ACCOUNT + "/influence-lines/", response=list[InfluenceLineOut], summary="List an account's influence lines")
@paginate(LimitOffset)
def list_lines(request, account_id: int):
    account = _account(request, account_id)
    return InfluenceLine.objects.filter(account=account).select_related("source", "target").order_by("pk")


@router.post(ACCOUNT + "/influence-lines/", response={201: InfluenceLineOut}, summary="Draw an influence line")
def create_line(request, account_id: int, payload: InfluenceLineIn):
    account = _editable(request, account_id)
    data = payload.dict()
    line = services.add_influence_line(
        account, by=request.user,
        source=_stakeholder_ref(request, "source_id", data.pop("source_id")),
        target=_stakeholder_ref(request, "target_id", data.pop("target_id")),
        **data,
    )
    return Status(201, line)


def _line(request, account_id: int, line_id: int) -> InfluenceLine:
    account = _account(request, account_id)
    return get_object_or_404(InfluenceLine.objects.select_related("source", "target", "account"), pk=line_id, account=account)


@router.get(ACCOUNT + "/influence-lines/{line_id}", response=InfluenceLineOut, summary="One influence line")
def get_line(request, account_id: int, line_id: int):
    return _line(request, account_id, line_id)


@router.patch(ACCOUNT + "/influence-lines/{line_id}", response={200: InfluenceLineOut, 409: VersionConflictOut},
              summary="Change an influence line")
def patch_line(request, account_id: int, line_id: int, payload: InfluenceLinePatch):
    changes = payload.dict(exclude_unset=True)
    version = version_from(request, changes.pop("version", None))
    return services.update_influence_line(_line(request, account_id, line_id), by=request.user, changes=changes, version=version)


@router.delete(ACCOUNT + "/influence-lines/{line_id}", response={204: None, 409: VersionConflictOut}, summary="Remove an influence line")
def remove_line(request, account_id: int, line_id: int, version: int | None = None):
    services.remove_influence_line(_line(request, account_id, line_id), by=request.user, version=version_from(request, version))
    return Status(204, None)


# ---------------------------------------------------------------- interactions


def _interactions(account: Account):
    return Interaction.objects.filter(account=account).select_related("next_step_owner", "created_by").prefetch_related(
        "stakeholders", "users")


def _marked(account: Account, interactions) -> list[Interaction]:
    duplicates = services.duplicate_next_steps(account)
    for interaction in interactions:
        interaction.possible_duplicate_of = duplicates.get(interaction.pk, [])
    return interactions


@router.get(ACCOUNT + "/interactions/", response=InteractionPage, summary="The interaction log, newest first")
def list_interactions(request, account_id: int, filters: Query[InteractionQuery], page: Query[LimitOffset.Input]):
    # Paged here rather than by @paginate, so that the duplicate flags are computed once per page.
    account = _account(request, account_id)
    form = InteractionFilter(_query_dict(filters))
    if not form.is_valid():
        raise _form_errors(form)
    rows = form.apply(_interactions(account), today=timezone.localdate())
    return {"items": _marked(account, list(rows[page.offset:page.offset + page.limit])), "count": rows.count()}


def _interaction_data(request, data: dict) -> dict:
    if "stakeholder_ids" in data:
        ids = data.pop("stakeholder_ids")
        data["stakeholders"] = [_stakeholder_ref(request, "stakeholder_ids", pk) for pk in ids] if ids is not None else []
    if "user_ids" in data:
        ids = data.pop("user_ids")
        data["users"] = [_user_ref("user_ids", pk) for pk in ids] if ids is not None else []
    if "next_step_owner_id" in data:
        data["next_step_owner"] = _user_ref("next_step_owner_id", data.pop("next_step_owner_id"))
    return data


def _one_interaction(account: Account, pk: int) -> Interaction:
    return _marked(account, [_interactions(account).get(pk=pk)])[0]


@router.post(ACCOUNT + "/interactions/", response={201: InteractionOut}, summary="Log an interaction (a future date plans it)")
def create_interaction(request, account_id: int, payload: InteractionIn):
    account = _editable(request, account_id)
    interaction = services.log_interaction(account, by=request.user, **_interaction_data(request, payload.dict()))
    return Status(201, _one_interaction(account, interaction.pk))


def _interaction(request, account_id: int, interaction_id: int) -> tuple[Account, Interaction]:
    account = _account(request, account_id)
    return account, get_object_or_404(Interaction.objects.select_related("account"), pk=interaction_id, account=account)


@router.get(ACCOUNT + "/interactions/{interaction_id}", response=InteractionOut, summary="One interaction")
def get_interaction(request, account_id: int, interaction_id: int):
    account, interaction = _interaction(request, account_id, interaction_id)
    return _one_interaction(account, interaction.pk)


@router.patch(ACCOUNT + "/interactions/{interaction_id}", response={200: InteractionOut, 409: VersionConflictOut},
              summary="Change an interaction")
def patch_interaction(request, account_id: int, interaction_id: int, payload: InteractionPatch):
    account, interaction = _interaction(request, account_id, interaction_id)
    require_edit(request.user, account)
    changes = payload.dict(exclude_unset=True)
    version = version_from(request, changes.pop("version", None))
    services.update_interaction(interaction, by=request.user, changes=_interaction_data(request, changes), version=version)
    return _one_interaction(account, interaction.pk)


@router.delete(ACCOUNT + "/interactions/{interaction_id}", response={204: None, 409: VersionConflictOut},
               summary="Remove an interaction")
def remove_interaction(request, account_id: int, interaction_id: int, version: int | None = None):
    _, interaction = _interaction(request, account_id, interaction_id)
    services.remove_interaction(interaction, by=request.user, version=version_from(request, version))
    return Status(204, None)


@router.get(ACCOUNT + "/meetings.ics", summary="Planned meetings as an iCalendar file",
            response={200: str}, openapi_extra={"responses": {"200": {"content": {"text/calendar": {}}}}})
def meetings_ics(request, account_id: int):
    account = _account(request, account_id)
    response = HttpResponse(services.meetings_calendar(account, host=request.get_host().split(":")[0] or "keyplan"),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(account.name) or "account"}-meetings.ics"'
    return response


# ---------------------------------------------------------------- analyses


@router.get(ACCOUNT + "/who-to-win", response=list[TargetOut], summary="Who to win next: ranked, with reasons and paths")
@paginate(LimitOffset)
def who_to_win(request, account_id: int):
    return [target.as_dict() for target in services.who_to_win(_account(request, account_id))]


@router.get(ACCOUNT + "/relationship-gaps", response=GapsOut,
            summary="Decision makers without a relationship owner, buying centers with no contact")
def relationship_gaps(request, account_id: int):
    persons = services.people(_account(request, account_id))
    return {
        "decision_makers_without_owner": [p.as_dict() for p in analysis.decision_makers_without_owner(persons)],
        "buying_centers_without_contact": [
            {"department": c.department, "stakeholders": [p.as_dict() for p in c.people]}
            for c in analysis.buying_centers_without_contact(persons)
        ],
    }


def _stale_rows(alerts) -> list[dict]:
    return [
        {
            "account": {"id": a.account.pk, "name": a.account.name},
            "stakeholder": a.person.as_dict(),
            "key_contact": a.person.key_contact,
            "buying_role": a.person.buying_role,
            "decision_power": a.person.power,
            "last_contact": a.person.last_contact,
            "days_since": a.stale.days_since,
            "owner": a.person.owner_dict(),
        }
        for a in alerts
    ]


def _stale_page(alerts, page: LimitOffset.Input) -> dict:
    return {"items": _stale_rows(alerts[page.offset:page.offset + page.limit]), "count": len(alerts)}


@router.get(ACCOUNT + "/stale-relationships", response=StalePage,
            summary="Watched stakeholders of one account not contacted for the stale threshold (or `days`)")
def account_stale(request, account_id: int, query: Query[StaleQuery], page: Query[LimitOffset.Input]):
    account = _account(request, account_id)
    return _stale_page(services.stale_alerts(Account.objects.filter(pk=account.pk), days=query.days), page)


@router.get("/relationships/stale", response=StalePage, summary="Stale relationships across every account the user sees")
def portfolio_stale(request, query: Query[StaleQuery], page: Query[LimitOffset.Input]):
    return _stale_page(services.stale_alerts(Account.objects.visible_to(request.user), days=query.days), page)


def _stale_settings_out() -> dict:
    rule = services.stale_rule()
    return {"days": rule.days, "powers": list(rule.powers), "roles": list(rule.roles), "key_contacts": rule.key_contacts}


@router.get("/relationships/settings", response=StaleSettingsOut,
            summary="Whom the stale alerts watch (decision powers, buying roles, key contact points) and after how many days")
def get_stale_settings(request):
    return _stale_settings_out()


@router.patch("/relationships/settings", response=StaleSettingsOut,
              summary="Change the stale alert settings (KAM leads and admins)")
@gate(requires(services.can_configure, _("Only KAM leads and admins change the stale alert settings.")))
def patch_stale_settings(request, payload: StaleSettingsPatch):
    services.update_stale_settings(by=request.user, **payload.dict(exclude_unset=True))
    return _stale_settings_out()


@router.get(ACCOUNT + "/map.svg", summary="The stakeholder map as a self-contained SVG", url_name="relationships_map_svg",
            response={200: str}, openapi_extra={"responses": {"200": {"content": {"image/svg+xml": {}}}}})
def map_svg(request, account_id: int, department: str = Query("", max_length=120,
                                                               description="Only the customer's people of this department")):
    account = _account(request, account_id)
    if department.strip() and department.strip().casefold() not in {d.casefold() for d in services.map_departments(account)}:
        raise ValidationError({"department": f"No stakeholder of this account is in the department {department.strip()!r}."})
    svg = services.render_map(account, department=department)
    response = HttpResponse('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{slugify(account.name) or "account"}-stakeholder-map.svg"'
    return response
