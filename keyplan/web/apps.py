from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "keyplan.web"
    label = "web"
    verbose_name = "Web"
