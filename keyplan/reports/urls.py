from django.urls import path

from keyplan.reports import views

app_name = "reports"
urlpatterns = [
    path("workbook.xlsx", views.portfolio_workbook, name="workbook"),
    path("accounts/<int:pk>/deck.pptx", views.account_deck, name="deck"),
    path("feeds/", views.feeds_page, name="feeds"),
    path("feeds/<slug:name>.csv", views.feed, {"fmt": "csv"}, name="feed_csv"),
    path("feeds/<slug:name>.json", views.feed, {"fmt": "json"}, name="feed_json"),
]
