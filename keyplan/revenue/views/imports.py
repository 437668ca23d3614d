"""Import pages: upload, preview and mapping, progress, batches and rollback.

The whole area is for KAM leads and admins (``can_import``): a batch's report quotes
rows of any account, which a team member must not see.
"""

import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods

from keyplan.core import exports, worker
from keyplan.core.pagination import KeysetPaginator
from keyplan.revenue import mappings, services, uploads
from keyplan.revenue.forms import FIELD_LABELS, PreviewForm, ReadAgainForm, UploadForm
from keyplan.revenue.models import BatchStatus, ImportBatch, ImportKind
from keyplan.revenue.tables import IMPORTS
from keyplan.revenue.reading import ReadError

PAGE_SIZE = 50
RUNNING = (BatchStatus.VALIDATING, BatchStatus.IMPORTING)
WORKER_GRACE = datetime.timedelta(seconds=5)


def _require_import_rights(request: HttpRequest) -> None:
    if not services.can_import(request.user):
        raise PermissionDenied(_("Only KAM leads and admins import files."))


def _add_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponse:
    """The batches, newest first, and the upload form."""
    _require_import_rights(request)
    if request.method == "GET" and exports.wants_csv(request):  # every batch, newest first, streamed
        return exports.csv_response(IMPORTS, ImportBatch.objects.select_related("created_by").order_by("-created_at", "-pk"))
    form = UploadForm(request.POST or None, request.FILES or None, initial={"kind": request.GET.get("kind", "ledger")})
    if request.method == "POST" and form.is_valid():
        try:
            upload = uploads.save_upload(form.cleaned_data["file"], kind=form.cleaned_data["kind"], by=request.user)
            _readable(upload, request.user)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return redirect("revenue:import_preview", token=upload.token)
    batches = ImportBatch.objects.select_related("created_by", "rolled_back_by")
    page = KeysetPaginator(batches, PAGE_SIZE).get_page(request.GET.get("page"))
    status = 400 if form.errors else 200
    context = {"form": form, "page": page, "running": RUNNING, "csv_query": exports.csv_query(request), "worker_missing": not worker.seen_recently(),
               "worker_last_seen": worker.last_seen()}
    return render(request, "revenue/imports.html", context, status=status)


def _readable(upload: uploads.Upload, user) -> None:
    """Refuse (and remove) a file that cannot be read as a table (a calendar, a mailbox) at all, on the upload form."""
    try:
        uploads.preview(upload, by=user, known=mappings.saved_columns(user, upload.kind))
    except ReadError as error:
        uploads.discard(upload)
        raise ValidationError({"file": _("%(file)s cannot be read: %(error)s") % {"file": upload.name, "error": error}}) from error


def _upload(request: HttpRequest, token: str) -> uploads.Upload:
    upload = uploads.find_upload(token)
    if upload is None:
        raise Http404(_("This upload is gone: uploads that were not imported are removed after a day."))
    return upload


@require_http_methods(["GET", "POST"])
def import_preview(request: HttpRequest, token: str) -> HttpResponse:
    """What Keyplan reads in the file; the mapping, formats and options to start the import with."""
    _require_import_rights(request)
    upload = _upload(request, token)
    if request.method == "POST" and request.POST.get("cancel"):
        uploads.discard(upload)
        messages.success(request, _("The upload of %(file)s was discarded; nothing was imported.") % {"file": upload.name})
        return redirect("revenue:imports")
    source = request.POST if request.method == "POST" else request.GET
    delimiter, sheet = source.get("delimiter") or None, source.get("sheet") or None
    preset = source.get("preset") or None  # the CRM export chosen; none: recognised from the columns
    mapping_name = source.get("mapping_name") or None  # the person's own saved mapping, chosen like a preset
    saved = None
    if mapping_name:
        try:
            saved = mappings.saved_mapping(request.user, upload.kind, mapping_name)
        except ValidationError:
            messages.error(request, _("You have no saved mapping named %(name)s for this kind of file.") % {"name": mapping_name})
            mapping_name = None
    try:
        view = uploads.preview(upload, delimiter=delimiter, sheet=sheet, preset=preset, by=request.user, saved=saved,
                               mapping_name=mapping_name, known=mappings.saved_columns(request.user, upload.kind))
    except ReadError as error:
        # The file was readable when uploaded: it is the delimiter or sheet chosen since that does not fit.
        messages.error(request, _("Read that way, %(file)s cannot be read: %(error)s") % {"file": upload.name, "error": error})
        return redirect("revenue:import_preview", token=upload.token)
    form = PreviewForm(request.POST if request.method == "POST" else None, preview=view)
    if request.method == "POST" and request.POST.get("save_mapping") and form.is_valid():
        choices = form.choices()
        try:
            saved_as = mappings.save_mapping(by=request.user, kind=upload.kind, name=form.cleaned_data.get("save_as", ""),
                                             mapping=choices.mapping)
        except ValidationError as error:
            form.add_error("save_as", [m for ms in error.message_dict.values() for m in ms])
        else:
            messages.success(request, _("Your mapping %(name)s was saved; choose it under “Your mapping” for the next file.")
                             % {"name": saved_as.name})
            query = urlencode({k: v for k, v in {"delimiter": choices.delimiter, "sheet": choices.sheet, "preset": choices.preset,
                                                  "mapping_name": saved_as.name}.items() if v})
            return redirect(f"{reverse('revenue:import_preview', kwargs={'token': upload.token})}?{query}")
    elif request.method == "POST" and form.is_valid():
        try:
            batch = uploads.start_import(upload, by=request.user, choices=form.choices(), view=view)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return redirect("revenue:import_batch", pk=batch.pk)
    context = {
        "upload": upload,
        "kind_label": ImportKind(upload.kind).label,
        "preview": view,
        "form": form,
        "read_again": ReadAgainForm(preview=view, saved_names=list(
            mappings.mappings_of(request.user, upload.kind).values_list("name", flat=True)) if not view.summary else []),
        "missing": [{**FIELD_LABELS, **view.spec.labels}.get(f, f) for f in view.missing],
        "same_file": uploads.same_file_imported(upload),
        "summary_errors": [{**e.__dict__, "reason": _on_the_web(e.__dict__)} for e in view.summary.errors[:PAGE_SIZE]]
        if view.summary else [],
    }
    return render(request, "revenue/import_preview.html", context, status=400 if form.errors else 200)


def _batch(request: HttpRequest, pk: int) -> ImportBatch:
    _require_import_rights(request)
    return get_object_or_404(ImportBatch.objects.select_related("created_by", "rolled_back_by"), pk=pk)


def _batch_context(batch: ImportBatch) -> dict:
    uploads.kind_spec(batch.kind)  # a kind of an area above loads its reasons (keyplan.revenue.importing.undo)
    running = batch.status in RUNNING
    report = batch.report or {}
    state, age = uploads.task_state(batch) if running else (None, None)
    queued = state == "READY"
    # The task ended without closing its batch (it could not even start): stop polling and say so.
    task_failed = running and state == "FAILED"
    return {
        "batch": batch,
        "running": running and not task_failed,
        "task_failed": task_failed,
        "queued": queued,
        # A worker looks for tasks every second: a task still waiting after a few seconds has no worker.
        "waiting": queued and age > WORKER_GRACE,
        "report": report,
        "errors": [{**e, "reason": _on_the_web(e)} for e in report.get("errors") or []],
        "more_errors": max(0, (report.get("error_count") or 0) - len(report.get("errors") or [])),
        "rejected_rows": uploads.rejected_rows_file(batch) is not None,
        "earlier_rolled_back": _earlier_rolled_back(batch),
    }


def _earlier_rolled_back(batch: ImportBatch) -> ImportBatch | None:
    """For a batch that added nothing: an earlier batch of the same file, rolled back since, whose lines it found."""
    if batch.status != BatchStatus.DONE or batch.rows_imported or not batch.rows_duplicate:
        return None
    return (ImportBatch.objects.filter(file_sha256=batch.file_sha256, kind=batch.kind, status=BatchStatus.ROLLED_BACK,
                                       created_at__lt=batch.created_at).order_by("-created_at").first())


# Where the command line's reason names one of its options, the web names the preview's choice instead.
WEB_REASONS = {
    "unknown_account": gettext_noop('unknown account; create it first or tick "Create accounts that do not exist yet"'),
    "date_format_unknown": gettext_noop("not a recognisable date; choose the date format on the preview"),
    "value_missing": gettext_noop("a value is required"),
}


def _on_the_web(error: dict) -> str:
    """The reason in the user's language; reports from before reasons had codes keep their English text."""
    code = error.get("code")
    if code not in services.REASONS:
        return error["reason"]
    return _(WEB_REASONS.get(code, services.REASONS[code])) % error.get("params", {})


@require_GET
def import_batch(request: HttpRequest, pk: int) -> HttpResponse:
    """One batch: a progress bar while it runs (its fragment polls itself), then counts and the report."""
    batch = _batch(request, pk)
    template = "revenue/import_batch.html#progress" if request.htmx else "revenue/import_batch.html"
    return render(request, template, _batch_context(batch))


@require_GET
def rejected_rows(request: HttpRequest, pk: int) -> FileResponse:
    batch = _batch(request, pk)
    path = uploads.rejected_rows_file(batch)
    if path is None:
        raise Http404(_("This batch has no file of rejected rows."))
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"batch-{batch.pk}-rejected-rows.csv",
                        content_type="text/csv")


@require_http_methods(["GET", "POST"])
def import_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo a batch: GET asks to confirm, POST does it."""
    batch = _batch(request, pk)
    error = None
    if request.method == "POST":
        try:
            services.rollback_batch(batch, by=request.user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, _("Batch %(n)s (%(file)s) was rolled back.") % {"n": batch.pk, "file": batch.file_name})
            return redirect("revenue:import_batch", pk=batch.pk)
    return render(request, "revenue/import_rollback.html", {"batch": batch, "error": error}, status=400 if error else 200)
