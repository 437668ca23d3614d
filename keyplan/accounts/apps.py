from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "keyplan.accounts"
    label = "accounts"
    verbose_name = "Accounts"
