from django.urls import path

from keyplan.revenue.views import account, imports, lifetime_value, portfolio, subscriptions

app_name = "revenue"
urlpatterns = [
    path("", portfolio.overview, name="portfolio"),
    # Lifetime value has a page of its own (as of a day, not a period); `revenue:analysis 'clv'` is its address too.
    path("analysis/clv/", lifetime_value.lifetime_value_page, name="lifetime_value"),
    path("analysis/<str:name>/", portfolio.analysis_page, name="analysis"),
    # Imports: upload, preview, batches, rollback.
    path("imports/", imports.import_list, name="imports"),
    path("imports/upload/<str:token>/", imports.import_preview, name="import_preview"),
    path("imports/<int:pk>/", imports.import_batch, name="import_batch"),
    path("imports/<int:pk>/rejected-rows.csv", imports.rejected_rows, name="import_rejected_rows"),
    path("imports/<int:pk>/rollback/", imports.import_rollback, name="import_rollback"),
    # An account's subscriptions (the card on the account page).
    path("accounts/<int:pk>/subscriptions/", subscriptions.account_subscriptions, name="account_subscriptions"),
    path("accounts/<int:pk>/subscriptions/<int:sid>/end/", subscriptions.subscription_end, name="subscription_end"),
    path("accounts/<int:pk>/revenue/", account.account_revenue, name="account_revenue"),
]
