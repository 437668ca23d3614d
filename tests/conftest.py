"""Shared fixtures: users of every role and accounts, all made through the services users go through."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, settings
from django.utils import timezone, translation

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole, Tier
from keyplan.core.models import Role
from keyplan.core.services import create_token, create_user

PASSWORD = "a-long-test-password"

# Property tests check what is computed, never how fast: a loaded CI machine must not fail them on time
# (speed targets live in benchmarks/).
settings.register_profile("keyplan", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("keyplan")


@pytest.fixture
def make_user(db):
    def make(username: str, role: str = Role.TEAM_MEMBER, **extra):
        return create_user(username=username, password=PASSWORD, role=role, check_password=False, **extra)

    return make


@pytest.fixture
def admin(make_user):
    return make_user("admin", Role.ADMIN)


@pytest.fixture
def lead(make_user):
    return make_user("lead", Role.KAM_LEAD, first_name="Lena", last_name="Lead")


@pytest.fixture
def viewer(make_user):
    return make_user("viewer", Role.VIEWER)


@pytest.fixture
def kam(make_user):
    return make_user("kam", Role.TEAM_MEMBER, first_name="Karl", last_name="Kam")


@pytest.fixture
def outsider(make_user):
    """A team member who is on no team."""
    return make_user("outsider", Role.TEAM_MEMBER)


@pytest.fixture
def make_account(lead):
    counter = iter(range(1, 10_000))

    def make(name: str | None = None, **data):
        n = next(counter)
        data.setdefault("external_id", f"T-{n:04d}")
        return accounts.create_account(by=lead, data={"name": name or f"Account {n}", **data})

    return make


@pytest.fixture
def account(make_account):
    return make_account("Acme Manufacturing", country="NL", city="Utrecht", time_zone="Europe/Amsterdam")


@pytest.fixture
def kam_account(account, lead, kam):
    """``account`` with ``kam`` as its key account manager."""
    accounts.add_team_member(account, by=lead, user=kam, role=TeamRole.KAM, responsibilities="Owns the plan")
    return account


@pytest.fixture
def key_account(kam_account, lead):
    """``kam_account`` made a key account."""
    accounts.set_tier(kam_account, by=lead, tier=Tier.KEY, reason="Selected")
    kam_account.refresh_from_db()
    return kam_account


@pytest.fixture
def today():
    return timezone.localdate()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def api_client(db):
    """A client that calls the API with a bearer token of the given user."""

    def make(user) -> Client:
        return Client(headers={"Authorization": f"Bearer {create_token(user)}"})

    return make


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Real hashing is slow by design; tests check behaviour, not the hash's strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def english_after_each_test():
    """A request in another language leaves that language active in the thread (LocaleMiddleware
    activates, nothing deactivates): the next test, in whatever order, must start in English."""
    yield
    translation.activate("en")


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path):
    """Uploaded import files go to a folder of the test's own (KEYPLAN_UPLOAD_DIR)."""
    settings.KEYPLAN_UPLOAD_DIR = tmp_path / "uploads"
    return settings.KEYPLAN_UPLOAD_DIR


@pytest.fixture
def run_worker(transactional_db):
    """Run the real background worker until the task queue is empty (``keyplan worker --batch``).

    The worker manages its own database connections, so the tests that use it commit
    their data (transactional_db) instead of running inside one test transaction.
    """
    import signal

    from django.core.management import call_command

    def run() -> None:
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
        try:
            call_command("db_worker", batch=True, interval=0, startup_delay=False, reload=False, verbosity=0)
        finally:
            for number, handler in saved.items():  # the worker installs its own; give pytest its Ctrl+C back
                signal.signal(number, handler)

    return run
