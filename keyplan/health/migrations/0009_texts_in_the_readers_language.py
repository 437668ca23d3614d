"""Texts Keyplan wrote in the language of whoever acted, turned into what each reader reads in their own language:

- the account plan's goal of a risk case's save plan gets the code save_plan with the case's day, rules and reason
  (its title and description, when still as Keyplan wrote them in any language, become the stored English);
- onboarding stages and checklist items named from the default template in a user's language go back to the
  template's English (OnboardingStage.label translates them).
"""

from django.conf import settings
from django.db import migrations
from django.utils import translation


def _in_every_language(render) -> dict[str, str]:
    out = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            out[code] = render()
    return out


def save_plan_goals(apps, schema_editor):
    from keyplan.health.models import RULE_LABELS
    from keyplan.planning.models import written_by_keyplan

    RiskCase = apps.get_model("health", "RiskCase")
    Goal = apps.get_model("planning", "Goal")
    title_msgid = "Keep the account: save plan of the at-risk case of %(day)s"
    for case in RiskCase.objects.exclude(plan_goal=None):
        goal = Goal.objects.get(pk=case.plan_goal_id)
        if goal.text_code:
            continue
        params = {"day": case.opened_on.isoformat(), "rules": list(case.rules or []), "reason": case.reason}
        english = written_by_keyplan("save_plan", params)
        titles = _in_every_language(lambda: (translation.gettext(title_msgid) % {"day": params["day"]})[:200])
        descriptions = _in_every_language(
            lambda: ("; ".join(str(RULE_LABELS[c]) for c in params["rules"] if c in RULE_LABELS) or case.reason)[:2000])
        goal.text_code, goal.text_params = "save_plan", params
        if goal.title in titles.values():
            goal.title = english["title"]
        if goal.description in descriptions.values():
            goal.description = english["description"]
        goal.save(update_fields=["text_code", "text_params", "title", "description"])


def onboarding_back_to_english(apps, schema_editor):
    from keyplan.health.onboarding import TEMPLATE_TEXTS

    english = {}
    for text in TEMPLATE_TEXTS:
        for translated in _in_every_language(lambda: translation.gettext(text)).values():
            english.setdefault(translated, text)
    Stage = apps.get_model("health", "OnboardingStage")
    for stage in Stage.objects.all():
        name = english.get(stage.name, stage.name)
        checklist = [{**item, "item": english.get(item.get("item"), item.get("item"))} for item in stage.checklist or []]
        if name != stage.name or checklist != stage.checklist:
            stage.name, stage.checklist = name, checklist
            stage.save(update_fields=["name", "checklist"])


class Migration(migrations.Migration):

    dependencies = [
        ('health', '0008_version'),
        ('planning', '0004_goal_text_code'),
    ]

    operations = [
        migrations.RunPython(save_plan_goals, migrations.RunPython.noop),
        migrations.RunPython(onboarding_back_to_english, migrations.RunPython.noop),
    ]
