from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "keyplan.scoring"
    verbose_name = "Key-account selection"
