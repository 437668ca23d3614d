"""The text rules of every web form, the same as the API's (keyplan.core.schemas.InputSchema):

- no control characters other than tab and line breaks (they broke the map's XML and the .ics), refused
  with an error on the field;
- every text field has a length limit the user can see: the browser stops at ``maxlength``, a text area
  says how much it takes, and the server refuses more. A model's ``max_length`` where it has one,
  ``TEXT_LIMIT`` characters for free text.

Forms get them by inheriting ``TextRules`` first: ``class StakeholderForm(TextRules, forms.ModelForm)``.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from keyplan.core.schemas import CONTROL_CHARACTERS, TEXT_LIMIT


def no_control_characters(value) -> None:
    if not isinstance(value, str):
        return
    match = CONTROL_CHARACTERS.search(value)
    if match:
        raise ValidationError(
            _("Control character U+%(code)s at position %(position)s: only tab and line breaks are allowed in text."),
            code="control_character", params={"code": f"{ord(match.group()):04X}", "position": match.start() + 1})


def apply_text_rules(form) -> None:
    for field in form.fields.values():
        if not isinstance(field, forms.CharField) or field.widget.is_hidden:
            continue
        if field.max_length is None:
            field.max_length = TEXT_LIMIT
            field.validators.append(MaxLengthValidator(TEXT_LIMIT))
        field.widget.attrs.setdefault("maxlength", str(field.max_length))
        if isinstance(field.widget, forms.Textarea):
            field.limit_hint = True  # web/field.html says "At most N characters."
        field.validators.append(no_control_characters)


class TextRules:
    """Mixin for a form: its text fields follow the API's text rules (see the module)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        apply_text_rules(self)
