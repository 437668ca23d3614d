"""Texts Keyplan writes, read in each reader's language instead of the language of whoever acted:

- a computed score's note is a code with its parameters (Score.note_code/note_params; the next recomputation
  writes them, since an old note cannot be read back into numbers);
- a criterion taken from the suggested library keeps the library's English name and description (Criterion.label
  translates them): names and descriptions stored in a lead's language are turned back into the library's English;
- a key account promoted in a review without a note gets the reason code review_promoted.
"""

import re

from django.conf import settings
from django.db import migrations, models
from django.utils import translation


def _translations(msgid: str) -> dict[str, str]:
    """language → the catalog's translation of ``msgid`` (where it differs from the English)."""
    found = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            text = translation.gettext(msgid)
        if text != msgid:
            found[code] = text
    return found


def library_back_to_english(apps, schema_editor):
    from keyplan.scoring.services import SUGGESTED

    Criterion = apps.get_model("scoring", "Criterion")
    english = {}
    for s in SUGGESTED:
        for field in ("name", "description"):
            for text in _translations(s[field]).values():
                english[(field, text)] = s[field]
    for criterion in Criterion.objects.all():
        changed = []
        name = english.get(("name", criterion.name))
        if name and not Criterion.objects.filter(archived_at__isnull=True, name__iexact=name).exclude(pk=criterion.pk).exists():
            criterion.name = name
            changed.append("name")
        description = english.get(("description", criterion.description))
        if description:
            criterion.description = description
            changed.append("description")
        if changed:
            criterion.save(update_fields=changed)


def review_reasons_to_codes(apps, schema_editor):
    TierChange = apps.get_model("accounts", "TierChange")
    msgid = "Promoted in the review of %(date)s."
    patterns = [re.compile(re.escape(text).replace(re.escape("%(date)s"), r"(\d{4}-\d{2}-\d{2})") + r"\Z")
                for text in [msgid, *_translations(msgid).values()]]
    for change in TierChange.objects.filter(reason_code="").exclude(reason=""):
        for pattern in patterns:
            found = pattern.match(change.reason)
            if found:
                change.reason_code, change.reason_params = "review_promoted", {"date": found[1]}
                change.reason = msgid % {"date": found[1]}
                change.save(update_fields=["reason", "reason_code", "reason_params"])
                break


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_tier_reason_code'),
        ('scoring', '0005_version'),
    ]

    operations = [
        migrations.AddField(
            model_name='score',
            name='note_code',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
        migrations.AddField(
            model_name='score',
            name='note_params',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='historicalscore',
            name='note_code',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
        migrations.AddField(
            model_name='historicalscore',
            name='note_params',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(library_back_to_english, migrations.RunPython.noop),
        migrations.RunPython(review_reasons_to_codes, migrations.RunPython.noop),
    ]
