"""Web input for imports and subscriptions; the rules themselves are in services.py and uploads.py.

(The portfolio's filter form is in filters.py.)
"""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from keyplan.accounts.forms import currency_choices
from keyplan.core import numbers
from keyplan.core.forms import TextRules
from keyplan.core.widgets import FastSelect
from keyplan.revenue.models import ImportKind
from keyplan.revenue.uploads import (
    DELIMITERS,
    EXTENSIONS,
    ImportChoices,
    Preview,
    date_format_choices,
)

FIELD_LABELS = {
    "account_id": _("Account id"),
    "account_name": _("Account name"),
    "date": _("Date"),
    "amount": _("Amount"),
    "currency": _("Currency"),
    "cost": _("Cost"),
    "product": _("Product"),
    "division": _("Division"),
    "invoice_id": _("Invoice id"),
    "line_id": _("Line id"),
    "plan": _("Plan"),
    "monthly_amount": _("Monthly amount"),
    "start": _("Start"),
    "end": _("End"),
    "rate": _("Rate"),
}
PLANS = ["Basic", "Standard", "Premium", "Enterprise"]
DOCUMENT_EXTENSIONS = (".ics", ".eml", ".mbox")  # calendars and mailboxes (keyplan.crm)


def _uploadable_kinds() -> list[tuple[str, str]]:
    """The kinds the upload, the preview and the background task run (others import with `keyplan import`)."""
    from keyplan.revenue.uploads import kind_spec

    return [(value, label) for value, label in ImportKind.choices if kind_spec(value) is not None]


class UploadForm(TextRules, forms.Form):
    kind = forms.ChoiceField(label=_("The file holds"), choices=lambda: _uploadable_kinds(), initial=ImportKind.LEDGER)
    file = forms.FileField(
        label=_("File"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join((*EXTENSIONS, *DOCUMENT_EXTENSIONS))}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "CSV (any delimiter, UTF-8 or Latin-1) or Excel .xlsx, up to %(mb)s MB; a calendar as .ics, e-mail as .eml "
            "or .mbox. The next step shows what Keyplan reads in it before anything is imported."
        ) % {"mb": numbers.number(settings.KEYPLAN_UPLOAD_MAX_MB)}


class PreviewForm(TextRules, forms.Form):
    """One select per column of the file (a field, or ignore), the number and date formats, the options."""

    decimal = forms.ChoiceField(label=_("Decimal separator"), choices=[(",", _("comma: 1.234,56")), (".", _("point: 1,234.56"))])
    date_format = forms.CharField(
        label=_("Date format"), max_length=40, required=False,
        widget=forms.TextInput(attrs={"list": "date-formats", "autocomplete": "off", "spellcheck": "false"}),
        help_text=_("strftime codes: %d day, %m month, %Y year."),
    )
    create_accounts = forms.BooleanField(
        label=_("Create accounts that do not exist yet"), required=False,
        help_text=_("Otherwise a row for an unknown account id is an error."),
    )
    skip_invalid = forms.BooleanField(
        label=_("Skip invalid rows"), required=False,
        help_text=_("Import the good rows and set the bad ones aside for download. "
                    "Without it, one bad row and nothing is imported."),
    )
    delimiter = forms.CharField(required=False, widget=forms.HiddenInput)
    sheet = forms.CharField(required=False, widget=forms.HiddenInput)
    preset = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    mapping_name = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)
    save_as = forms.CharField(label=_("Save this mapping as"), required=False, max_length=60,
                              help_text=_("Your own mapping, chosen again under “Your mapping” for the next file."))

    def __init__(self, *args, preview: Preview, **kwargs):
        initial = {"decimal": preview.decimal, "date_format": preview.date_format or "", "delimiter": preview.delimiter or "",
                   "sheet": preview.sheet or "", "preset": preview.preset or "", "mapping_name": preview.mapping_name or "",
                   "save_as": preview.mapping_name or ""}
        super().__init__(*args, initial=initial, **kwargs)
        self.preview = preview
        labels = {**FIELD_LABELS, **preview.spec.labels}
        choices = [("", _("— ignore —"))] + [(name, labels.get(name, name)) for name in preview.fields]
        detected = preview.column_fields
        self.columns = []
        for index, header in enumerate(preview.headers):
            name = f"column_{index}"
            self.fields[name] = forms.ChoiceField(label=header or _("(no name)"), choices=choices, required=False,
                                                  initial=detected[header])
            self.columns.append(name)
        if preview.kind != ImportKind.LEDGER:
            del self.fields["create_accounts"], self.fields["skip_invalid"]
        if preview.spec.document:  # a calendar or mailbox: no columns, numbers or dates; its own yes/no choices
            del self.fields["decimal"], self.fields["date_format"], self.fields["save_as"]
            for name, label in preview.spec.flags.items():
                self.fields[name] = forms.BooleanField(label=label, required=False, initial=False)

    @property
    def mapping_fields(self):
        return [self[name] for name in self.columns]

    def date_formats(self):
        return date_format_choices(self.preview.date_format)

    def choices(self) -> ImportChoices:
        data = self.cleaned_data
        return ImportChoices(
            mapping={header: data.get(f"column_{i}", "") for i, header in enumerate(self.preview.headers)},
            decimal=data.get("decimal"), date_format=(data.get("date_format") or "").strip() or None,
            delimiter=data.get("delimiter") or None, sheet=data.get("sheet") or None,
            create_accounts=data.get("create_accounts", False), skip_invalid=data.get("skip_invalid", False),
            preset=data.get("preset") or None,
            flags={name: bool(data.get(name)) for name in self.preview.spec.flags},
            mapping_name=data.get("mapping_name") or None,
        )

    @property
    def flag_fields(self):
        return [self[name] for name in self.preview.spec.flags]


class ReadAgainForm(TextRules, forms.Form):
    """How to read the file: the CSV delimiter or the workbook's sheet (a GET form on the preview)."""

    delimiter = forms.ChoiceField(label=_("Delimiter"), required=False,
                                  choices=[(d, label) for d, label in DELIMITERS.items()])
    sheet = forms.ChoiceField(label=_("Sheet"), required=False, choices=[])
    preset = forms.ChoiceField(label=_("Columns of"), required=False, choices=[])
    mapping_name = forms.ChoiceField(label=_("Your mapping"), required=False, choices=[])

    def __init__(self, *args, preview: Preview, saved_names: list[str] = (), **kwargs):
        super().__init__(*args, initial={"delimiter": preview.delimiter, "sheet": preview.sheet, "preset": preview.preset or "",
                                         "mapping_name": preview.mapping_name or ""}, **kwargs)
        if saved_names:
            self.fields["mapping_name"].choices = [("", _("— none —"))] + [(n, n) for n in saved_names]
        else:
            del self.fields["mapping_name"]
        if preview.spec.presets:
            self.fields["preset"].choices = [("", _("recognised from the columns"))] + [(p, p) for p in preview.spec.presets]
        else:
            del self.fields["preset"]
        if preview.sheets:
            self.fields["sheet"].choices = [(s, s) for s in preview.sheets]
            del self.fields["delimiter"]
        else:
            del self.fields["sheet"]


class SubscriptionForm(TextRules, forms.Form):
    plan = forms.CharField(label=_("Plan"), max_length=100,
                           widget=forms.TextInput(attrs={"list": "subscription-plans", "autocomplete": "off"}))
    monthly_amount = forms.DecimalField(label=_("Monthly amount"), min_value=0, max_digits=14, decimal_places=2)
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices, widget=FastSelect)
    start = forms.DateField(label=_("Start"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("End"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                          help_text=_("Leave empty while it runs."))


class EndSubscriptionForm(TextRules, forms.Form):
    end = forms.DateField(label=_("End"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
