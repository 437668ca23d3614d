"""How the import kinds of the areas above revenue (health's surveys …) are undone.

The rollback cannot import those areas; each registers the dotted path of a function that removes what
one of its batches wrote. A plain module, so that registering from an app's ``ready()`` loads nothing
(the rollback itself pulls in the import machinery and NumPy).
"""

UNDO: dict[str, str] = {}  # import kind -> "package.module.function", called with the batch inside the rollback's transaction


def register_undo(kind: str, path: str) -> None:
    UNDO[kind] = path


# Import kinds of the areas above revenue that the upload, the preview and the background task run:
# kind -> "package.module.attribute", an object with ``spec`` (a keyplan.revenue.uploads.KindSpec) and
# ``run(path, *, by, options, batch)`` returning an ImportResult.
IMPORTERS: dict[str, str] = {}


def register_importer(kind: str, path: str) -> None:
    IMPORTERS[kind] = path
