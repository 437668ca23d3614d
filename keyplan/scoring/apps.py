from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "keyplan.scoring"
    verbose_name = "Key-account selection"

    def ready(self) -> None:
        from keyplan.scoring import signals

        signals.connect()
