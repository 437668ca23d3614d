"""Sign-in: throttling per user name and per address, unlock by a lead or admin, password rules, API tokens."""

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from keyplan.cli import main
from keyplan.core.models import ApiToken, Role
from keyplan.core.services import create_token, revoke_token, user_for_token
from tests.conftest import PASSWORD, client_for


def _login(client: Client, username: str, password: str, path: str = "/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=client.defaults.get("REMOTE_ADDR", "127.0.0.1"))


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


class TestThrottling:
    def test_wrong_passwords_lock_the_user_name_with_a_clear_message(self, kam, limit):
        client = Client(REMOTE_ADDR="10.0.0.1")
        for _ in range(limit - 1):
            response = _login(client, "kam", "wrong")
            assert response.status_code == 200 and "Please enter a correct" in response.content.decode()
        locked = _login(client, "kam", "wrong")
        assert locked.status_code == 429
        assert "Signing in is locked" in locked.content.decode() and "15 minutes" in locked.content.decode()
        # Even the right password is refused while locked, from another address too.
        other = Client(REMOTE_ADDR="10.0.0.2")
        assert _login(other, "kam", PASSWORD).status_code == 429
        assert "_auth_user_id" not in other.session

    def test_one_address_trying_many_user_names_is_locked(self, kam, lead, limit):
        client = Client(REMOTE_ADDR="10.0.0.9")
        for name in ("anna", "bert", "carl"):
            _login(client, name, "guess")
        assert _login(client, "lead", PASSWORD).status_code == 429
        # Someone else, from elsewhere, still signs in.
        assert _login(Client(REMOTE_ADDR="10.0.0.10"), "lead", PASSWORD).status_code == 302

    def test_a_success_clears_the_count(self, kam, limit):
        client = Client(REMOTE_ADDR="10.0.0.3")
        for _ in range(limit - 1):
            _login(client, "kam", "wrong")
        assert _login(client, "kam", PASSWORD).status_code == 302
        client.logout()
        for _ in range(limit - 1):
            _login(client, "kam", "wrong")
        assert _login(client, "kam", PASSWORD).status_code == 302

    def test_the_admin_login_is_throttled_too(self, admin, limit):
        client = Client(REMOTE_ADDR="10.0.0.4")
        for _ in range(limit):
            _login(client, "admin", "wrong", "/admin/login/")
        assert _login(client, "admin", PASSWORD, "/admin/login/").status_code == 429

    def test_a_lead_sees_and_unlocks_a_locked_user(self, kam, lead, limit):
        attacker = Client(REMOTE_ADDR="10.0.0.5")
        for _ in range(limit):
            _login(attacker, "kam", "wrong")
        page = client_for(lead).get("/settings/sign-in-locks/")
        assert page.status_code == 200
        text = page.content.decode()
        assert "kam" in text and "10.0.0.5" in text
        response = client_for(lead).post("/settings/sign-in-locks/unlock", {"username": "kam"})
        assert response.status_code == 302
        assert _login(Client(REMOTE_ADDR="10.0.0.6"), "kam", PASSWORD).status_code == 302

    def test_the_operator_unlocks_from_the_command_line(self, kam, lead, limit, capsys):
        client = Client(REMOTE_ADDR="10.0.0.7")
        for _ in range(limit):
            _login(client, "kam", "wrong")
        assert main(["unlock"]) == 2
        assert main(["unlock", "kam"]) == 0 and "Cleared 1" in capsys.readouterr().out
        assert _login(client, "kam", PASSWORD).status_code == 302
        other = Client(REMOTE_ADDR="10.0.0.8")
        for name in ("x", "y", "z"):
            _login(other, name, "guess")
        assert _login(other, "lead", PASSWORD).status_code == 429
        assert main(["unlock", "--address", "10.0.0.8"]) == 0
        assert _login(other, "lead", PASSWORD).status_code == 302

    def test_a_team_member_may_not_unlock(self, kam, outsider, limit):
        assert client_for(outsider).get("/settings/sign-in-locks/").status_code == 403
        assert client_for(outsider).post("/settings/sign-in-locks/unlock", {"username": "kam"}).status_code == 403


class TestPasswords:
    def test_weak_passwords_are_refused_on_the_change_page(self, kam):
        client = client_for(kam)
        response = client.post("/password/", {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"})
        assert response.status_code == 200 and "too common" in response.content.decode()
        response = client.post("/password/", {"old_password": PASSWORD, "new_password1": "12345678901", "new_password2": "12345678901"})
        assert "entirely numeric" in response.content.decode()

    def test_weak_passwords_are_refused_by_createuser(self, db, capsys):
        assert main(["createuser", "weak", "--password", "password"]) != 0
        assert "too common" in capsys.readouterr().err


class TestTokens:
    def test_only_a_digest_is_stored(self, kam):
        secret = create_token(kam, name="ERP script")
        token = ApiToken.objects.get()
        assert secret not in {token.digest, token.hint, token.name} and len(token.digest) == 64
        assert token.hint == secret[:8]

    def test_an_expired_token_is_refused(self, kam):
        secret = create_token(kam, expires_in_days=30)
        assert user_for_token(secret) == kam
        ApiToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        assert user_for_token(secret) is None
        response = Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/accounts/")
        assert response.status_code == 401

    def test_a_revoked_token_is_refused(self, kam):
        secret = create_token(kam)
        revoke_token(ApiToken.objects.get(), by=kam)
        assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/accounts/").status_code == 401

    def test_nobody_else_revokes_my_token(self, kam, outsider):
        create_token(kam)
        from django.core.exceptions import PermissionDenied

        with pytest.raises(PermissionDenied):
            revoke_token(ApiToken.objects.get(), by=outsider)
        assert client_for(outsider).post(f"/settings/tokens/{ApiToken.objects.get().pk}/revoke").status_code == 404

    def test_the_token_page_makes_shows_once_and_revokes(self, kam):
        client = client_for(kam)
        made = client.post("/settings/tokens/", {"name": "Nightly export", "expires_in_days": "90"})
        assert made.status_code == 200
        token = ApiToken.objects.get()
        secret = made.context["secret"]
        assert secret.startswith("kp_") and secret in made.content.decode()
        assert token.name == "Nightly export" and 89 <= (token.expires_at - timezone.now()).days <= 90
        assert secret not in client.get("/settings/tokens/").content.decode()  # shown once
        assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/accounts/").status_code == 200
        client.post(f"/settings/tokens/{token.pk}/revoke")
        assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/accounts/").status_code == 401
        assert "revoked" in client.get("/settings/tokens/").content.decode()

    def test_a_bad_expiry_is_refused(self, kam):
        response = client_for(kam).post("/settings/tokens/", {"expires_in_days": "99999"})
        assert response.status_code == 200 and not ApiToken.objects.exists()

    def test_the_command_line_lists_and_revokes(self, kam, lead, capsys):
        assert main(["token", "create", "kam", "--name", "CI", "--expires-days", "7"]) == 0
        secret = capsys.readouterr().out.strip()
        create_token(lead)
        assert main(["token", "list", "kam", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [(r["user"], r["name"], r["status"]) for r in rows] == [("kam", "CI", "active")]
        assert rows[0]["expires_at"] and secret not in json.dumps(rows)
        assert main(["token", "revoke", str(rows[0]["id"])]) == 0
        assert "Revoked" in capsys.readouterr().out and user_for_token(secret) is None
        assert main(["token", "revoke", "999999"]) == 2
        assert main(["token", "create", "kam", "--expires-days", "0"]) == 2


class TestApiDocs:
    def test_open_in_development(self, db, settings):
        settings.KEYPLAN_API_DOCS_NEED_LOGIN = False
        assert Client().get("/api/v1/openapi.json").status_code == 200

    def test_behind_a_login_in_production(self, kam, settings):
        settings.KEYPLAN_API_DOCS_NEED_LOGIN = True
        assert Client().get("/api/v1/openapi.json").status_code == 401
        assert Client().get("/api/v1/docs").status_code == 302
        assert client_for(kam).get("/api/v1/docs").status_code == 200
        secret = create_token(kam)
        assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/openapi.json").status_code == 200


def test_the_lead_menu_links_the_settings_pages(lead, kam):
    assert "/settings/sign-in-locks/" in client_for(lead).get("/settings/tokens/").content.decode()
    page = client_for(kam).get("/settings/tokens/").content.decode()
    assert "/settings/tokens/" in page and "/settings/sign-in-locks/" not in page
    assert Role.TEAM_MEMBER == kam.role
