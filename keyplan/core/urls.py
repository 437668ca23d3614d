from django.urls import path

from keyplan.core import views

urlpatterns = [
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke", views.revoke_token, name="revoke_token"),
    path("sign-in-locks/", views.sign_in_locks, name="sign_in_locks"),
    path("sign-in-locks/unlock", views.unlock_sign_in, name="unlock_sign_in"),
]
