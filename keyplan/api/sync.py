"""/api/v1/sync/accounts, /stakeholders and /interactions: a CRM's records kept in step (keyplan.crm.sync).

For KAM leads and admins (403 otherwise). Up to 10,000 records per request, all or none: 200 with the counts,
or 422 with each bad record's number (from 1), field, value and reason, and nothing written.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from ninja import Field, Router, Schema, Status

from keyplan.api.gates import gate, requires
from keyplan.core.schemas import InputSchema
from keyplan.crm.sync import MAX_RECORDS, sync
from keyplan.revenue.services import can_import

router = Router()


class SyncIn(InputSchema):
    system: str = Field("api", min_length=1, max_length=40, description="The CRM the records come from, e.g. Salesforce")
    records: list[Any] = Field(..., max_length=MAX_RECORDS,
                               description=f"Up to {MAX_RECORDS:,} records, each an object of field: value "
                                           "(the fields of the accounts, contacts or activities import)")
    dry_run: bool = Field(False, description="Check and count; write nothing")


class SyncErrorOut(Schema):
    record: int = Field(description="The record's place in the list, from 1")
    field: str
    value: str | None
    reason: str
    code: str
    params: dict[str, str] = {}


class SyncOut(Schema):
    status: str = Field(description="done, dry_run, or rejected (nothing was written)")
    records: int
    created: int
    updated: int
    unchanged: int
    batch: int | None = Field(description="The import batch that holds the changes (roll it back with "
                                          "POST /imports/{id}/rollback); null when nothing changed")
    error_count: int
    errors: list[SyncErrorOut]


def _answer(result) -> tuple[int, dict]:
    status = "rejected" if result.error_count else "dry_run" if result.dry_run else "done"
    body = {"status": status, "records": result.rows_total, "created": result.created, "updated": result.updated,
            "unchanged": result.unchanged, "batch": result.batch.pk if result.batch else None,
            "error_count": result.error_count,
            "errors": [{"record": e.line, "field": e.column, "value": e.value, "reason": e.reason, "code": e.code,
                        "params": e.params} for e in result.errors]}
    return (422 if result.error_count else 200), body


SYNCERS = requires(can_import, "Only KAM leads and admins sync records.")


def _endpoint(kind: str):
    @gate(SYNCERS)
    def endpoint(request, payload: SyncIn):
        if not can_import(request.user):
            raise PermissionDenied("Only KAM leads and admins sync records.")
        code, body = _answer(sync(kind, payload.records, by=request.user, system=payload.system, dry_run=payload.dry_run))
        return Status(code, body)

    endpoint.__name__ = f"sync_{kind}"
    return endpoint


for _kind, _summary in (("accounts", "Keep accounts in step with a CRM: upsert by external id, all records or none"),
                        ("stakeholders", "Keep contacts in step with a CRM: upsert by contact id or e-mail, all records or none"),
                        ("interactions", "Log a CRM's activities: those already in the log are recognised (same account, date "
                                         "and kind, a summary in nearly the same words), all records or none")):
    router.post(_kind, response={200: SyncOut, 422: SyncOut}, tags=["sync"], summary=_summary)(_endpoint(_kind))
