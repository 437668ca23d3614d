from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from keyplan.api.api import api
from keyplan.core import views as core_views
from keyplan.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("accounts/", include("keyplan.accounts.urls")),
    path("selection/", include("keyplan.scoring.urls")),
    path("portfolio/", include("keyplan.revenue.urls")),
    path("reports/", include("keyplan.reports.urls")),  # downloads; /reports/ itself is still "coming next"
    path("", include("keyplan.relationships.urls")),  # /relationships/ and /accounts/<id>/relationships/…
    path("", include("keyplan.planning.urls")),  # /plans/ and /accounts/<id>/plans/…
    path("", include("keyplan.health.urls")),  # /health/… and /accounts/<id>/health/
    path("login/", web_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("healthz", core_views.healthz, name="healthz"),  # for load balancers: database and worker
    path("settings/", include("keyplan.core.urls")),  # API tokens, locked sign-ins
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
urlpatterns += [
    path(f"{area}/", web_views.coming, {"area": area}, name=area) for area in web_views.COMING
]
