from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from keyplan.planning.models import AccountPlan, Action, Goal, PlanSection


@admin.register(AccountPlan)
class AccountPlanAdmin(SimpleHistoryAdmin):
    list_display = ["account", "period", "state", "starts", "ends", "reviewed_at", "version"]
    list_filter = ["state"]
    search_fields = ["account__name", "account__external_id", "period"]
    raw_id_fields = ["account", "copied_from", "created_by"]


@admin.register(PlanSection)
class PlanSectionAdmin(SimpleHistoryAdmin):
    list_display = ["plan", "key", "version"]
    list_filter = ["key"]
    raw_id_fields = ["plan"]


@admin.register(Goal)
class GoalAdmin(SimpleHistoryAdmin):
    list_display = ["title", "plan", "horizon", "owner", "due", "status", "version"]
    list_filter = ["horizon", "status", "metric"]
    search_fields = ["title", "plan__account__name"]
    raw_id_fields = ["plan", "owner", "carried_from"]


@admin.register(Action)
class ActionAdmin(SimpleHistoryAdmin):
    list_display = ["title", "goal", "owner", "start", "due", "status", "milestone", "version"]
    list_filter = ["status", "milestone"]
    search_fields = ["title", "goal__title", "plan__account__name"]
    raw_id_fields = ["plan", "goal", "owner", "stakeholder", "depends_on", "carried_from"]
