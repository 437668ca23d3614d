"""/api/v1/imports/ (upload, list, report, rollback) and /api/v1/accounts/{id}/subscriptions/.

An upload is checked at once (readable file, mapping, formats: 422 naming the field)
and then imported by a background worker: the answer is 202 with the batch, whose
``status`` and ``progress`` the caller follows with GET /imports/{id}. Imports and
rollbacks are for KAM leads and admins (403 otherwise); subscriptions follow the
account: outside the user's reach is a 404, a change they may not make a 403.
"""

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from ninja import File, Form, Router, Status, UploadedFile
from ninja.pagination import paginate

from keyplan.accounts.models import Account
from keyplan.api.gates import gate, requires
from keyplan.core.pagination import LimitOffset
from keyplan.core.schemas import VersionConflictOut
from keyplan.core.versions import version_from
from keyplan.revenue import mappings, services, uploads
from keyplan.revenue.models import ImportBatch, ImportMapping, Subscription
from keyplan.revenue.reading import ReadError
from keyplan.revenue.schemas import (
    ImportBatchDetailOut,
    ImportBatchOut,
    ImportMappingIn,
    ImportMappingOut,
    ImportOptionsIn,
    MappingKindChoice,
    SameFileOut,
    SubscriptionEndIn,
    SubscriptionIn,
    SubscriptionOut,
)

router = Router()
IMPORTERS = requires(services.can_import, "Only KAM leads and admins import files and see import batches.")
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def _require_import_rights(request) -> None:
    if not services.can_import(request.user):
        raise PermissionDenied("Only KAM leads and admins import files and see import batches.")


def _batch(request, batch_id: int) -> ImportBatch:
    _require_import_rights(request)
    return get_object_or_404(ImportBatch.objects.select_related("created_by", "rolled_back_by"), pk=batch_id)


@router.get("imports/", response=list[ImportBatchOut], tags=["imports"], summary="Import batches, newest first")
@paginate(LimitOffset)
def list_imports(request):
    _require_import_rights(request)
    return ImportBatch.objects.select_related("created_by", "rolled_back_by")


def _mapping(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError({"mapping": f"Not JSON: {error.msg}. Send an object of column -> field."}) from error
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, (str, type(None))) for k, v in mapping.items()):
        raise ValidationError({"mapping": 'Send an object of column -> field, e.g. {"Kundennummer": "account_id"}.'})
    return {column: field or "" for column, field in mapping.items()}


@router.post("imports/", response={202: ImportBatchDetailOut, 409: SameFileOut}, tags=["imports"],
             summary="Upload a ledger, subscriptions, rates, accounts or contacts file (CSV or XLSX), a calendar (.ics) or "
                     "e-mail (.eml, .mbox) and import it in the background")
@gate(IMPORTERS)
def create_import(request, options: Form[ImportOptionsIn], file: File[UploadedFile]):
    _require_import_rights(request)
    mapping = _mapping(options.mapping)
    delimiter = DELIMITER_NAMES.get((options.delimiter or "").lower(), options.delimiter) or None
    upload = uploads.save_upload(file, kind=options.kind, by=request.user)
    earlier = None if options.repeat else uploads.same_file_imported(upload)
    if earlier is not None:
        uploads.discard(upload)  # nothing runs: the caller decides
        return Status(409, {"detail": f"This file was imported as batch {earlier.pk} on "
                                      f"{earlier.created_at.isoformat(timespec='seconds')} ({earlier.rows_imported} lines); "
                                      f"send repeat=true to import it again.",
                            "batch": earlier.pk, "imported_at": earlier.created_at})
    try:
        presets = uploads.kind_spec(options.kind).presets
        if options.preset and options.preset not in presets:
            raise ValidationError({"preset": f"Choose one of {', '.join(presets)}." if presets else
                                             f"A {options.kind} file has no presets."})
        try:
            saved = mappings.saved_mapping(request.user, options.kind, options.mapping_name) if options.mapping_name else None
            view = uploads.preview(upload, delimiter=delimiter, sheet=options.sheet, preset=options.preset, by=request.user,
                                   saved=saved, mapping_name=options.mapping_name)
        except ReadError as error:
            raise ValidationError({"file": str(error)}) from error
        # The saved mapping's columns that the file has, then the explicit ones over them.
        mapping = {**{column: name for column, name in (saved or {}).items() if column in view.headers}, **mapping}
        choices = uploads.ImportChoices(mapping=mapping, decimal=options.decimal, date_format=options.date_format,
                                        delimiter=delimiter, sheet=options.sheet, create_accounts=options.create_accounts,
                                        skip_invalid=options.skip_invalid, preset=options.preset,
                                        flags={"with_body": options.with_body})
        batch = uploads.start_import(upload, by=request.user, choices=choices, view=view)
    except BaseException:
        uploads.discard(upload)  # nothing was queued: the file goes
        raise
    return Status(202, batch)


@router.get("imports/{batch_id}", response=ImportBatchDetailOut, tags=["imports"],
            summary="One batch with its status, progress and report (each bad row's line, column, value and reason)")
def get_import(request, batch_id: int):
    return _batch(request, batch_id)


@router.get("imports/{batch_id}/rejected-rows", url_name="import_rejected_rows", tags=["imports"],
            summary="The rows a skip_invalid import set aside, as CSV with the reason in front of each")
def import_rejected_rows(request, batch_id: int):
    batch = _batch(request, batch_id)
    path = uploads.rejected_rows_file(batch)
    if path is None:
        raise Http404
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"batch-{batch.pk}-rejected-rows.csv",
                        content_type="text/csv")


@router.post("imports/{batch_id}/rollback", response=ImportBatchDetailOut, tags=["imports"],
             summary="Undo an imported batch: its lines leave the ledger and the rollups")
@gate(IMPORTERS)
def rollback_import(request, batch_id: int):
    batch = _batch(request, batch_id)
    return services.rollback_batch(batch, by=request.user)


# ---------------------------------------------------------------- a person's saved mappings


@router.get("import-mappings/", response=list[ImportMappingOut], tags=["imports"], summary="Your saved column mappings")
@paginate(LimitOffset)
def list_import_mappings(request, kind: MappingKindChoice | None = None):
    _require_import_rights(request)
    return mappings.mappings_of(request.user, kind)


@router.post("import-mappings/", response={201: ImportMappingOut}, tags=["imports"],
             summary="Save a column mapping by name (the same kind and name replaces it), for mapping_name on an upload")
@gate(requires(services.can_import, "Only KAM leads and admins import files."))
def save_import_mapping(request, payload: ImportMappingIn):
    _require_import_rights(request)
    return Status(201, mappings.save_mapping(by=request.user, kind=payload.kind, name=payload.name, mapping=payload.mapping))


@router.delete("import-mappings/{mapping_id}", response={204: None}, tags=["imports"], summary="Remove one of your mappings")
@gate(requires(services.can_import, "Only KAM leads and admins import files."))
def delete_import_mapping(request, mapping_id: int):
    _require_import_rights(request)
    mappings.delete_mapping(by=request.user, mapping=get_object_or_404(ImportMapping, pk=mapping_id, user=request.user))
    return Status(204, None)


# ---------------------------------------------------------------- subscriptions


def _account(request, account_id: int) -> Account:
    return get_object_or_404(Account.objects.visible_to(request.user), pk=account_id)


@router.get("accounts/{account_id}/subscriptions/", response=list[SubscriptionOut], tags=["subscriptions"],
            summary="The account's subscriptions, newest first")
@paginate(LimitOffset)
def list_subscriptions(request, account_id: int):
    return _account(request, account_id).subscriptions.order_by("-start", "plan")


@router.post("accounts/{account_id}/subscriptions/", response={201: SubscriptionOut}, tags=["subscriptions"],
             summary="Add a subscription")
def add_subscription(request, account_id: int, payload: SubscriptionIn):
    account = _account(request, account_id)
    subscription = services.add_subscription(account, by=request.user, **payload.dict())
    return Status(201, subscription)


@router.post("accounts/{account_id}/subscriptions/{subscription_id}/end", response={200: SubscriptionOut, 409: VersionConflictOut},
             tags=["subscriptions"],
             summary="End a subscription")
def end_subscription(request, account_id: int, subscription_id: int, payload: SubscriptionEndIn):
    subscription = get_object_or_404(Subscription.objects.select_related("account"), pk=subscription_id,
                                     account=_account(request, account_id))
    return services.end_subscription(subscription, by=request.user, end=payload.end,
                                     version=version_from(request, payload.version))
