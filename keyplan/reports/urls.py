from django.urls import path

from keyplan.reports import views

app_name = "reports"
urlpatterns = [
    path("workbook.xlsx", views.portfolio_workbook, name="workbook"),
    path("workbook/jobs/", views.workbook_start, name="workbook_start"),
    path("workbook/jobs/<int:pk>/", views.workbook_job, name="workbook_job"),
    path("workbook/jobs/<int:pk>/file", views.workbook_job_file, name="workbook_job_file"),
    path("workbook/jobs/<int:pk>/retry", views.workbook_job_retry, name="workbook_job_retry"),
    path("accounts/<int:pk>/deck.pptx", views.account_deck, name="deck"),
    path("feeds/", views.feeds_page, name="feeds"),
    path("feeds/<slug:name>.csv", views.feed, {"fmt": "csv"}, name="feed_csv"),
    path("feeds/<slug:name>.json", views.feed, {"fmt": "json"}, name="feed_json"),
]
