"""Fixtures for the revenue tests."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.fixture
def migrate_to():
    """Migrate the test database to an earlier migration, and back to the latest afterwards whatever the test does.

    ``migrate_to(("revenue", "0008_…"))`` returns the apps as the database then stands: every migration still
    applied, of every app (the other apps keep their later columns, such as an account's version);
    ``migrate_to()`` goes back to the latest."""

    def to(target: tuple[str, str] | None = None):
        executor = MigrationExecutor(connection)
        executor.migrate([target] if target else executor.loader.graph.leaf_nodes())
        executor.loader.build_graph()
        return executor.loader.project_state(list(executor.loader.applied_migrations)).apps

    yield to
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
