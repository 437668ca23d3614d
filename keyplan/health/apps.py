from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "keyplan.health"
    label = "health"
    verbose_name = "Health and retention"

    def ready(self) -> None:
        # An import of surveys is undone by the revenue area's rollback, which knows no health tables:
        # it asks the kinds registered here to remove what their batch wrote.
        from keyplan.revenue.importing.undo import register_undo

        register_undo("surveys", "keyplan.health.services.undo_survey_batch")
        register_undo("usage", "keyplan.health.services.undo_usage_batch")
        register_undo("tickets", "keyplan.health.services.undo_ticket_batch")
        register_undo("payments", "keyplan.health.services.undo_payment_batch")
        # … and uploaded in the browser or through the API, the same import functions run in the background.
        from keyplan.revenue.importing.undo import register_importer

        for kind in ("surveys", "usage", "tickets", "payments"):
            register_importer(kind, f"keyplan.health.importing.{kind.upper()}")
