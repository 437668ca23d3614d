"""The program charter's pages: parse, authorize, call planning.charter, render.

Everyone signed in reads the charter; KAM leads and admins change it. Edits carry the version
they were read at; a conflicting save shows both versions side by side, as the plan pages do.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keyplan.planning import analysis, charter
from keyplan.planning.forms import CHARTER_LABELS, READINESS_QUESTIONS, CharterForm, RolloutStepForm
from keyplan.planning.models import RolloutStep
from keyplan.planning.views import _add_errors, _conflict, _svg_download


def _require_edit(request: HttpRequest) -> None:
    if not charter.can_edit(request.user):
        raise PermissionDenied


def _shown(content: dict) -> list[tuple[str, str]]:
    return [(CHARTER_LABELS[name], value if isinstance(value, str) else "\n".join(value))
            for name, value in content.items() if name in CHARTER_LABELS]


@require_GET
def charter_page(request: HttpRequest) -> HttpResponse:
    view = charter.charter_view()
    link = (lambda step: reverse("planning:rollout_step", args=[step.pk])) if charter.can_edit(request.user) else None
    answers = [{"answer": a, "question": READINESS_QUESTIONS[a.code], "evidence": charter.evidence(a),
                "note": view.content.get(f"note_{a.code}", "")} for a in view.readiness]
    context = {"view": view, "c": view.content, "answers": answers, "can_edit": charter.can_edit(request.user),
               "svg": mark_safe(charter.render_rollout(link=link)),  # escaped piece by piece by gantt_svg
               "without_sponsor": sum(1 for s in view.sponsors if not s.sponsors)}
    return render(request, "planning/charter.html", context)


@require_GET
def charter_timeline(request: HttpRequest) -> HttpResponse:
    return _svg_download(charter.render_rollout(), "kam-rollout.svg")


@require_http_methods(["GET", "POST"])
def charter_edit(request: HttpRequest) -> HttpResponse:
    _require_edit(request)
    row = charter.charter()
    form = CharterForm(request.POST or None, initial=CharterForm.initial_for(row, charter.content(row)))
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            charter.update_charter(by=request.user, version=form.cleaned_data["version"], changes=form.content())
        except charter.Conflict as c:
            saved = CharterForm.initial_for(c.current, charter.content(c.current))
            conflict = _conflict(form, c.current, {name: saved[name] for name in analysis.CHARTER})
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("planning:charter")
    return render(request, "planning/charter_edit.html",
                  {"form": form, "conflict": conflict, "title": _("Edit the KAM charter"), "form_id": "charter-form"},
                  status=400 if form.errors else 200)


@require_GET
def charter_history(request: HttpRequest) -> HttpResponse:
    row = charter.charter()
    versions = charter.versions(row, limit=30)
    for v in versions:
        v.shown = _shown(v.content or {})
    return render(request, "planning/charter_history.html",
                  {"row": row, "versions": versions, "can_edit": charter.can_edit(request.user)})


@require_POST
def charter_restore(request: HttpRequest, history_id: int) -> HttpResponse:
    _require_edit(request)
    try:
        row = charter.restore_charter(by=request.user, history_id=history_id)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("planning:charter_history")
    messages.success(request, _("The charter restored as version %(version)s.") % {"version": row.version})
    return redirect("planning:charter")


@require_http_methods(["GET", "POST"])
def rollout_step(request: HttpRequest, step_pk: int | None = None) -> HttpResponse:
    _require_edit(request)
    step = get_object_or_404(RolloutStep, pk=step_pk) if step_pk else None
    if request.method == "POST" and step is not None and request.POST.get("remove"):
        try:
            charter.remove_step(step, by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Step removed."))
        return redirect(reverse("planning:charter") + "#rollout")
    initial = {"version": step.version} if step else {"phase": request.GET.get("phase", "")}
    form = RolloutStepForm(request.POST or None, instance=RolloutStep.objects.get(pk=step.pk) if step else None,
                           initial=initial)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            if step is None:
                step = charter.add_step(by=request.user, data=form.changes())
            else:
                charter.update_step(step, by=request.user, version=form.cleaned_data["version"], changes=form.changes())
        except charter.Conflict as c:
            conflict = _conflict(form, c.current, {name: getattr(c.current, name) for name in RolloutStepForm.Meta.fields})
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Step saved."))
            return redirect(reverse("planning:charter") + "#rollout")
    context = {"form": form, "conflict": conflict, "title": step.title if step else _("New rollout step"),
               "remove_url": request.path if step else "", "form_id": "charter-form"}
    return render(request, "planning/charter_edit.html", context, status=400 if form.errors else 200)
