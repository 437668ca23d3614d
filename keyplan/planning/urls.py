from django.urls import path

from keyplan.planning import charter_views, views

app_name = "planning"
plans = "accounts/<int:pk>/plans/"
plan = plans + "<int:plan_pk>/"
urlpatterns = [
    path("plans/", views.portfolio, name="portfolio"),
    path("plans/timeline/", views.portfolio_timeline, name="portfolio_timeline"),
    path("plans/opportunities/import/", views.opportunities_import, name="opportunities_import"),
    path("plans/charter/", charter_views.charter_page, name="charter"),
    path("plans/charter/edit/", charter_views.charter_edit, name="charter_edit"),
    path("plans/charter/history/", charter_views.charter_history, name="charter_history"),
    path("plans/charter/restore/<int:history_id>/", charter_views.charter_restore, name="charter_restore"),
    path("plans/charter/timeline.svg", charter_views.charter_timeline, name="charter_timeline"),
    path("plans/charter/rollout/new/", charter_views.rollout_step, name="rollout_create"),
    path("plans/charter/rollout/<int:step_pk>/", charter_views.rollout_step, name="rollout_step"),
    path(plans, views.account_plans, name="account"),
    path(plan, views.plan_page, name="plan"),
    path(plan + "edit/", views.plan_edit, name="edit"),
    path(plan + "state/", views.plan_state, name="state"),
    path(plan + "history/", views.plan_history, name="history"),
    path(plan + "timeline/", views.plan_timeline, name="timeline"),
    path(plan + "print/", views.plan_print, name="print"),
    path(plan + "sections/<str:key>/", views.section_edit, name="section"),
    path(plan + "sections/<str:key>/restore/<int:history_id>/", views.section_restore, name="section_restore"),
    path(plan + "goals/new/", views.goal_edit, name="goal_create"),
    path(plan + "goals/<int:goal_pk>/", views.goal_edit, name="goal"),
    path(plan + "actions/new/", views.action_edit, name="action_create"),
    path(plan + "actions/<int:action_pk>/", views.action_edit, name="action"),
    path(plan + "opportunities/new/", views.opportunity_edit, name="opportunity_create"),
    path(plan + "opportunities/<int:opportunity_pk>/", views.opportunity_edit, name="opportunity"),
    path(plan + "whitespace/", views.whitespace_page, name="whitespace"),
    path(plan + "team/", views.raci_page, name="raci"),
    path(plan + "whitespace/cell/", views.whitespace_cell, name="whitespace_cell"),
]
