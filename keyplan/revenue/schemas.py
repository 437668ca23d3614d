"""API shapes for import batches and subscriptions; the rules stay in services.py and uploads.py."""

import datetime
import decimal
from typing import Any, Literal

from django.urls import reverse
from ninja import Field, Schema
from pydantic import field_validator

from keyplan.accounts.schemas import UserRef
from keyplan.core.schemas import VERSION_IN, VERSION_OUT, InputSchema, choice
from keyplan.revenue.mappings import COMMAND_LINE_KINDS
from keyplan.revenue.models import BatchStatus, ImportBatch, ImportKind
from keyplan.revenue.uploads import rejected_rows_file

ImportKindChoice = choice(ImportKind)
# A saved mapping's kind: a file kind of the upload, or one that only the command line imports.
MappingKindChoice = choice([*ImportKind.values, *COMMAND_LINE_KINDS])
BatchStatusChoice = choice(BatchStatus)


class ImportOptionsIn(InputSchema):
    """The form fields sent with the file (multipart/form-data)."""

    kind: ImportKindChoice = Field(description="What the file holds (calendar: an .ics file; mail: an .eml file or an .mbox archive)")
    mapping: str | None = Field(
        None, description='JSON object of column -> field, "" to ignore a column, e.g. {"Kundennummer": "account_id", '
                          '"Notes": ""}; columns left out keep the detected field')
    date_format: str | None = Field(None, description="strftime format of the dates, e.g. %d.%m.%Y (detected when left out)")
    decimal: Literal[".", ","] | None = Field(None, description="Decimal separator of amounts (detected when left out)")
    delimiter: str | None = Field(None, description="CSV delimiter: , ; | or tab (detected when left out)")
    sheet: str | None = Field(None, description="XLSX sheet (default: the first)")
    create_accounts: bool = Field(False, description="Ledger: create accounts that do not exist yet")
    skip_invalid: bool = Field(False, description="Ledger: import the good rows; the rejected ones are kept for download")
    preset: str | None = Field(None, max_length=40, description="accounts, stakeholders: the CRM whose export the file is "
                                                               "(Salesforce, HubSpot, Dynamics 365, Odoo, Pipedrive); "
                                                               "recognised from the columns when left out")
    mapping_name: str | None = Field(None, max_length=60, description="A column mapping you saved (on the preview, with "
                                                                    "POST /import-mappings/ or keyplan import --save-mapping); "
                                                                    "`mapping` overrides it column by column")
    with_body: bool = Field(False, description="mail: keep the text of each thread's first message with its subject "
                                               "(privacy: left off, only the subject is stored)")
    repeat: bool = Field(False, description="Import a file whose very content was imported before (otherwise 409 names "
                                            "that batch and nothing runs)")


class ImportMappingIn(InputSchema):
    kind: MappingKindChoice = Field(description="The kind of file it maps: accounts, stakeholders, ledger …")
    name: str = Field(min_length=1, max_length=60)
    # Any values here, checked below: so that an error names `mapping` itself (the service names unknown fields).
    mapping: dict[str, Any] = Field(description='Column -> field, "" to ignore the column, e.g. {"Kundennummer": "account_id"}')

    @field_validator("mapping")
    @classmethod
    def _fields_are_texts(cls, value: dict) -> dict:
        for column, name in value.items():
            if name is not None and not isinstance(name, str):
                raise ValueError(f'{column}: a field is a text such as "account_id", or "" to ignore the column')
        return value


class ImportMappingOut(Schema):
    id: int
    kind: MappingKindChoice
    name: str
    mapping: dict[str, str]
    updated_at: datetime.datetime


class RowErrorOut(Schema):
    line: int
    column: str
    value: str | None
    reason: str = Field(description="Why the row was refused, in English")
    code: str = Field("", description="The reason as a stable key, e.g. unknown_account, not_a_date, no_rate")
    params: dict[str, str] = Field({}, description="The values in the reason, e.g. {\"format\": \"%d.%m.%Y\"}")


class ReportOut(Schema):
    error_count: int = 0
    errors: list[RowErrorOut] = []
    message: str | None = Field(None, description="Why a file was refused as a whole, or why an import broke off")
    rejected_rows_url: str | None = Field(None, description="The rejected rows as CSV, when skip_invalid set them aside")
    created: int | None = Field(None, description="Accounts, stakeholders: records created")
    updated: int | None = Field(None, description="Accounts, stakeholders: records changed (field by field, with history)")
    unchanged: int | None = Field(None, description="Accounts, stakeholders: records the same as stored")
    source_system: str | None = Field(None, description="Accounts, stakeholders: the CRM the records came from")
    skipped_no_customer: int | None = Field(None, description="Calendar, mail: events or threads with none of the "
                                                              "customer's people, skipped")
    skipped_cancelled: int | None = Field(None, description="Calendar: cancelled events, skipped")
    replies: int | None = Field(None, description="Mail: replies counted with their thread (a thread is logged once)")


class ImportBatchOut(Schema):
    id: int
    kind: ImportKindChoice
    file_name: str
    status: BatchStatusChoice = Field(description="validating, importing, done, rejected, failed, broken_off or rolled_back")
    progress: int = Field(description="0-100 while it runs")
    rows_total: int
    rows_imported: int
    rows_duplicate: int
    rows_rejected: int
    accounts_created: int
    options: dict
    created_by: UserRef | None
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    rolled_back_by: UserRef | None
    rolled_back_at: datetime.datetime | None


class ImportBatchDetailOut(ImportBatchOut):
    report: ReportOut

    @staticmethod
    def resolve_report(batch: ImportBatch) -> dict:
        report = dict(batch.report or {})
        report.pop("rejected_file", None)  # a path on the server: the URL below serves it
        if rejected_rows_file(batch) is not None:
            report["rejected_rows_url"] = reverse("api:import_rejected_rows", kwargs={"batch_id": batch.pk})
        return report


class SameFileOut(Schema):
    detail: str
    batch: int = Field(description="The batch that imported the same file")
    imported_at: datetime.datetime


class SubscriptionOut(Schema):
    id: int
    version: int = Field(description=VERSION_OUT)
    account_id: int
    plan: str
    monthly_amount: float
    currency: str
    start: datetime.date
    end: datetime.date | None
    batch_id: int | None = Field(description="The import that brought it, if any")


class SubscriptionIn(InputSchema):
    plan: str = Field(max_length=100)
    monthly_amount: decimal.Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(None, description="ISO 4217 code; default: the account's reporting currency")
    start: datetime.date
    end: datetime.date | None = None


class SubscriptionEndIn(InputSchema):
    version: int | None = Field(None, description=VERSION_IN)
    end: datetime.date
