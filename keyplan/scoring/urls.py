from django.urls import path

from keyplan.scoring import views

app_name = "scoring"
urlpatterns = [
    path("", views.matrix, name="matrix"),
    path("score/<int:account_pk>/<int:criterion_pk>/", views.score_cell, name="score"),
    path("chart/", views.chart, name="chart"),
    path("criteria/", views.criteria, name="criteria"),
    path("criteria/suggested/", views.criterion_suggested, name="criterion_suggested"),
    path("criteria/refresh/", views.criteria_refresh, name="criteria_refresh"),
    path("criteria/<int:pk>/", views.criterion_edit, name="criterion"),
    path("criteria/<int:pk>/remove/", views.criterion_remove, name="criterion_remove"),
    path("criteria/<int:pk>/restore/", views.criterion_restore, name="criterion_restore"),
    path("rounds/", views.rounds, name="rounds"),
    path("rounds/<int:pk>/", views.round_detail, name="round"),
    path("proposals/<int:pk>/", views.proposal_decide, name="proposal"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<int:pk>/", views.review_detail, name="review"),
    path("accounts/<int:pk>/card/", views.account_card, name="account_card"),
]
