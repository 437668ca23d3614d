from django.urls import path

from keyplan.relationships import views

app_name = "relationships"
account = "accounts/<int:pk>/relationships/"
urlpatterns = [
    path("relationships/", views.portfolio, name="portfolio"),
    path("relationships/settings/", views.stale_settings, name="settings"),
    path(account, views.map_page, name="map"),
    path(account + "people/", views.stakeholder_table, name="table"),
    path(account + "people/new/", views.stakeholder_create, name="stakeholder_create"),
    path(account + "people/<int:sid>/", views.stakeholder_edit, name="stakeholder"),
    path(account + "people/<int:sid>/remove/", views.stakeholder_remove, name="stakeholder_remove"),
    path(account + "people/<int:sid>/restore/", views.stakeholder_restore, name="stakeholder_restore"),
    path(account + "lines/new/", views.line_create, name="line_create"),
    path(account + "lines/<int:lid>/", views.line_edit, name="line"),
    path(account + "lines/<int:lid>/remove/", views.line_remove, name="line_remove"),
    path(account + "who-to-win/", views.who_to_win, name="who_to_win"),
    path(account + "interactions/", views.interaction_log, name="interactions"),
    path(account + "interactions/new/", views.interaction_create, name="interaction_create"),
    path(account + "interactions/<int:iid>/", views.interaction_edit, name="interaction"),
    path(account + "interactions/<int:iid>/remove/", views.interaction_remove, name="interaction_remove"),
    path(account + "meetings.ics", views.meetings_ics, name="ics"),
]
