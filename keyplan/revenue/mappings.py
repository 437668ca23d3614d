"""A person's own column mappings: saved by name for one kind of file, and chosen again on the preview (like a
CRM preset), in the API (``mapping_name``) and on the command line (``--mapping NAME``).

A saved mapping is column -> field; applied to a file, it maps the columns the file has and leaves the rest
to the detection, so one mapping serves the monthly exports of one system even when a column comes and goes.
Each person sees and changes only their own.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from keyplan.core.models import User
from keyplan.revenue.importing.inspection import can_import
from keyplan.revenue.models import ImportMapping

MAX_COLUMNS = 500
COMMAND_LINE_KINDS = ("credit-ratings", "opportunities")  # imported with `keyplan import` (and their own pages)


def mappings_of(user: User, kind: str | None = None):
    found = ImportMapping.objects.filter(user=user)
    return found.filter(kind=kind) if kind else found


def saved_columns(user: User, kind: str) -> dict[str, str]:
    """Every column the person's saved mappings of ``kind`` name (column -> field): names they taught Keyplan, so
    they count as known where a file's header row is looked for, before a mapping is chosen."""
    found: dict[str, str] = {}
    for saved in mappings_of(user, kind).order_by("name"):
        found.update(saved.mapping)
    return found


def saved_mapping(user: User, kind: str, name: str, *, field: str = "mapping_name") -> dict[str, str]:
    """The mapping saved under ``name``. Raises ValidationError naming ``field`` and the names there are."""
    found = mappings_of(user, kind).filter(name=(name or "").strip()).first()
    if found is None:
        names = list(mappings_of(user, kind).values_list("name", flat=True))
        raise ValidationError({field: f"You have no {kind} mapping named {name!r}; "
                                      + (f"yours are {', '.join(names)}." if names else "save one first.")})
    return found.mapping


def _fields(kind: str) -> tuple[str, ...] | None:
    from keyplan.revenue.uploads import kind_spec

    spec = kind_spec(kind)
    return None if spec is None or spec.document else spec.fields


def save_mapping(*, by: User, kind: str, name: str, mapping: dict[str, str]) -> ImportMapping:
    """Save (or replace) ``by``'s mapping ``name`` for ``kind``. Raises ValidationError naming the bad part."""
    from keyplan.revenue.uploads import kind_spec

    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import files.")
    name = " ".join((name or "").split())
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the mapping a name."]
    elif len(name) > 60:
        errors["name"] = ["A mapping's name has at most 60 characters."]
    spec = kind_spec(kind)
    if spec is None and kind not in COMMAND_LINE_KINDS:
        from keyplan.revenue.uploads import kind_names

        errors["kind"] = [f"Choose what the file holds: {', '.join([*kind_names(), *COMMAND_LINE_KINDS])}."]
    elif spec is not None and spec.document:
        errors["kind"] = [f"A {kind} file has no columns to map."]
    fields = _fields(kind)
    if not mapping:
        errors["mapping"] = ["Map at least one column."]
    elif len(mapping) > MAX_COLUMNS:
        errors["mapping"] = [f"A mapping has at most {MAX_COLUMNS} columns."]
    else:
        for column, field in mapping.items():
            if field is not None and not isinstance(field, str):
                errors.setdefault("mapping", []).append(f"{column}: a field is a text such as account_id, or \"\" to ignore the column.")
            elif not column.strip() or len(column) > 200:
                errors.setdefault("mapping", []).append(f"{column[:40]!r} is not a column name (1 to 200 characters).")
            elif field and fields is not None and field not in fields:
                errors.setdefault("mapping", []).append(f"{column}: {field!r} is not a field; fields are {', '.join(fields)}.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        saved, _ = ImportMapping.objects.update_or_create(
            user=by, kind=kind, name=name, defaults={"columns": [[column, field or ""] for column, field in mapping.items()]})
    return saved


def delete_mapping(*, by: User, mapping: ImportMapping) -> None:
    if mapping.user_id != by.pk:
        raise PermissionDenied("Each person removes only their own mappings.")
    mapping.delete()
