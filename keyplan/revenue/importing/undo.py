"""How the import kinds of the areas above revenue (health's surveys …) are undone.

The rollback cannot import those areas; each registers the dotted path of a function that removes what
one of its batches wrote. A plain module, so that registering from an app's ``ready()`` loads nothing
(the rollback itself pulls in the import machinery and NumPy).
"""

UNDO: dict[str, str] = {}  # import kind -> "package.module.function", called with the batch inside the rollback's transaction


def register_undo(kind: str, path: str) -> None:
    UNDO[kind] = path
