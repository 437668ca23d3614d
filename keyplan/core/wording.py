"""The command line's English: counts with their noun in the right number ("1 row", "2 rows").

The commands print English (their --json output is for programs); the web pages are translated. Only the standard
library here, so that ``keyplan --help`` stays quick.
"""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, or its plural (``noun`` + "s" unless given) for any count but 1."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
