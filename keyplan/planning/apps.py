from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "keyplan.planning"
    label = "planning"
    verbose_name = "Account planning"
