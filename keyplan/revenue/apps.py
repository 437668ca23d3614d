from django.apps import AppConfig


class RevenueConfig(AppConfig):
    name = "keyplan.revenue"
    label = "revenue"
    verbose_name = "Revenue"
