from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "keyplan.core"
    label = "core"
    verbose_name = "Keyplan core"
