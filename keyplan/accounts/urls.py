from django.urls import path

from keyplan.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.account_list, name="list"),
    path("new/", views.account_create, name="create"),
    path("suggest-parent/", views.parent_suggestions, name="suggest_parent"),
    path("workload/", views.workload, name="workload"),
    path("<int:pk>/", views.account_detail, name="detail"),
    path("<int:pk>/edit/", views.account_edit, name="edit"),
    path("<int:pk>/history/", views.account_history, name="history"),
    path("<int:pk>/fields/<str:name>/", views.account_field, name="field"),
    path("<int:pk>/tier/", views.account_tier, name="tier"),
    path("<int:pk>/archive/", views.account_archive, name="archive"),
    path("<int:pk>/team/", views.team_add, name="team_add"),
    path("<int:pk>/team/<int:member_pk>/", views.team_member, name="team_member"),
    path("<int:pk>/competitors/", views.competitor_add, name="competitor_add"),
    path("<int:pk>/competitors/<int:competitor_pk>/remove/", views.competitor_remove, name="competitor_remove"),
]
