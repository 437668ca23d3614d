from django.urls import path

from keyplan.health import views

app_name = "health"
urlpatterns = [
    path("health/", views.dashboard, name="dashboard"),
    path("health/snapshot/", views.snapshot, name="snapshot"),
    path("health/queue/", views.risk_queue, name="queue"),
    path("health/cases/<int:case_pk>/", views.case_page, name="case"),
    path("health/reviews/", views.reviews_page, name="reviews"),
    path("health/settings/", views.settings_page, name="settings"),
    path("health/notifications/", views.notifications_page, name="notifications"),
    path("health/backtest/", views.backtest_page, name="backtest"),
    path("accounts/<int:pk>/health/", views.account_page, name="account"),
    path("accounts/<int:pk>/health/surveys/", views.survey_add, name="survey_add"),
    path("accounts/<int:pk>/health/reviews/", views.review_add, name="review_add"),
    path("accounts/<int:pk>/health/check-ins/", views.checkin_add, name="checkin_add"),
    path("accounts/<int:pk>/health/queue/", views.case_open, name="case_open"),
    path("accounts/<int:pk>/health/onboarding/", views.onboarding_page, name="onboarding"),
]
