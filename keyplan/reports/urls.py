from django.urls import path

from keyplan.reports import views

app_name = "reports"
urlpatterns = [
    path("workbook.xlsx", views.portfolio_workbook, name="workbook"),
    path("accounts/<int:pk>/deck.pptx", views.account_deck, name="deck"),
]
