from django.urls import path

from keyplan.reports import views

app_name = "reports"
urlpatterns = [
    path("workbook.xlsx", views.portfolio_workbook, name="workbook"),
]
