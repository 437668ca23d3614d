from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "keyplan.crm"
    label = "crm"
    verbose_name = "CRM imports and sync"

    def ready(self) -> None:
        # The revenue area's import machinery (upload, preview, background task, rollback) knows no CRM
        # tables: it asks the kinds registered here to read their files and to undo their batches.
        from keyplan.revenue.importing.undo import register_importer, register_undo

        for kind in ("accounts", "stakeholders"):
            register_importer(kind, f"keyplan.crm.importing.{kind.upper()}")
            register_undo(kind, f"keyplan.crm.importing.undo_{kind}_batch")
        register_importer("interactions", "keyplan.crm.interactions.INTERACTIONS")
        register_undo("interactions", "keyplan.crm.interactions.undo_interactions_batch")
        register_importer("calendar", "keyplan.crm.calendar.CALENDAR")
        register_importer("mail", "keyplan.crm.mail.MAIL")
        register_undo("calendar", "keyplan.crm.calendar.undo_calendar_batch")
        register_undo("mail", "keyplan.crm.mail.undo_mail_batch")
