"""Who may write, decided before the request body is read.

django-ninja reads and validates an operation's parameters, its body included, before the handler runs. Left
alone, someone who may not write and sends a malformed body would be told what is wrong with the body (422)
instead of being refused (403, or 404 outside their reach). So every write operation of the API (POST, PUT,
PATCH, DELETE) passes a gate right after authentication and before any parameter is read
(``GatedOperation`` in keyplan/api/api.py):

- by default, a viewer (a read-only role) changes nothing (403); when the path names an account, directly
  (``account_id``) or through an object of one (``case_id``, ``stage_id``, ``proposal_id``), that account must
  be within the user's reach (404 otherwise) and theirs to change (403);
- an operation with another rule says so with ``@gate(...)``, below its ``@router`` decorator: ``leads`` (KAM
  leads and admins), ``team_managers`` (the account's KAM, leads, admins), ``anyone`` (one's own things: a
  notification read, a workbook job), …

A rule that depends on what the body says (the account named in ``POST /scores/``, the role given to a team
member) can only be decided once the body is read: the service decides it then. The services keep every
check (the web pages and the command line go through them too); the gate makes the API's refusal come first.
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from keyplan.accounts.models import Account
from keyplan.accounts.services import can_edit, can_manage_team
from keyplan.core.models import User

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Check = Callable[[User, Account | None], None]  # raises PermissionDenied (403) or Http404


def gate(check: Check):
    """Declare an operation's rule (instead of the default ``may_change``); put it below ``@router.post(…)``."""

    def mark(view):
        view.keyplan_gate = check
        return view

    return mark


def may_change(user: User, account: Account | None) -> None:
    """The default: no viewer writes; an account named by the path must be the user's to change."""
    if account is not None and not can_edit(user, account):
        raise PermissionDenied(_("You may not change this account."))
    if user.is_read_only:
        raise PermissionDenied("Viewers change nothing.")


def requires(allowed: Callable[[User], bool], refusal) -> Check:
    """A rule on the user alone (a program decision: leads and admins), after the account's reach."""

    def check(user: User, account: Account | None) -> None:
        if not allowed(user):
            raise PermissionDenied(refusal)

    return check


def _edits_all(user: User) -> bool:
    return user.edits_all_accounts


leads = requires(_edits_all, "Only KAM leads and admins do this.")


def team_managers(user: User, account: Account | None) -> None:
    if account is None or not can_manage_team(user, account):
        raise PermissionDenied(_("Only the account's key account manager, KAM leads and admins change the team."))


def anyone(user: User, account: Account | None) -> None:
    """One's own things (marking one's notifications read, one's workbook job): the handler finds them."""


def portfolio_readers(user: User, account: Account | None) -> None:
    """Key-status reviews: those who see every account (404 for the others, as reading them is); no viewer writes."""
    if not user.sees_all_accounts:
        raise Http404
    may_change(user, account)


def _owned_objects() -> dict[str, object]:
    # Path parameters naming an object of an account, without the account in the path. Imported here: the
    # domain apps' models are loaded by the time a request is gated.
    from keyplan.health.models import OnboardingStage, RiskCase
    from keyplan.scoring.models import Proposal

    return {"case_id": RiskCase, "stage_id": OnboardingStage, "proposal_id": Proposal}


def account_in_path(user: User, path: dict) -> Account | None:
    """The account the path names, or None when it names none; 404 when it is outside the user's reach (or
    the object naming it does not exist)."""
    account_id = _number(path.get("account_id"))
    if account_id is None:
        for name, model in _owned_objects().items():
            pk = _number(path.get(name))
            if pk is not None:
                account_id = model.objects.filter(pk=pk).values_list("account_id", flat=True).first()
                if account_id is None:
                    raise Http404
                break
        else:
            return None
    account = Account.objects.visible_to(user).filter(pk=account_id).first()
    if account is None:
        raise Http404
    return account


def _number(value) -> int | None:
    # A path value that is no number is the path's own validation error (422), which names it.
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def check_write(request, view, path: dict) -> None:
    """Refuse ``request`` (raise) when its user may not make this write; nothing of the body is read."""
    if request.method not in WRITE_METHODS:
        return
    check = getattr(view, "keyplan_gate", may_change)
    if check is anyone:
        return
    check(request.user, account_in_path(request.user, path))
