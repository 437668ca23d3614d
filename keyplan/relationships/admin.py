from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder


@admin.register(Stakeholder)
class StakeholderAdmin(SimpleHistoryAdmin):
    list_display = ["name", "account", "title", "department", "external_organisation", "buying_role", "decision_power",
                    "sentiment", "is_key_contact", "owner", "archived_at"]
    list_filter = ["buying_role", "decision_power", "sentiment", "is_key_contact"]
    search_fields = ["name", "title", "department", "external_organisation", "account__name", "account__external_id"]
    raw_id_fields = ["account", "reports_to", "owner"]


@admin.register(InfluenceLine)
class InfluenceLineAdmin(SimpleHistoryAdmin):
    list_display = ["source", "target", "polarity", "strength", "account"]
    list_filter = ["polarity", "strength"]
    raw_id_fields = ["account", "source", "target"]


@admin.register(Interaction)
class InteractionAdmin(SimpleHistoryAdmin):
    list_display = ["date", "kind", "account", "headline", "next_step_owner", "next_step_due", "next_step_done"]
    list_filter = ["kind", "next_step_done"]
    search_fields = ["summary", "next_step", "account__name"]
    raw_id_fields = ["account", "stakeholders", "users", "next_step_owner", "created_by"]
    date_hierarchy = "date"
