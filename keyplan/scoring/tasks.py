"""Background tasks of the selection, run by `keyplan worker` (django-tasks with the database backend)."""

from django_tasks import task

from keyplan.scoring import services


@task()
def recompute_scores(sources: list[str] | None = None) -> dict:
    """Recompute the scores computed from data after an import (whole portfolio: revenue trends, margins and
    lifetime values move together)."""
    result = services.recompute_scores(sources=sources)
    return {"created": result.created, "updated": result.updated, "removed": result.removed,
            "skipped": result.skipped or {}}
