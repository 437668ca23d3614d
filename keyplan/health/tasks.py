"""Background tasks of health, run by `keyplan worker` (django-tasks with the database backend)."""

import datetime

from django_tasks import task

from keyplan.health import services


@task()
def take_snapshot(day: str | None = None) -> dict:
    """The daily snapshot, queued from the dashboard's button (at 100,000 accounts it takes about 15 s)."""
    return services.take_snapshot(today=datetime.date.fromisoformat(day) if day else None).as_dict()
