"""The scoring matrix's columns (one per active criterion), declared once: its CSV download and live feed."""

from collections.abc import Callable, Iterable, Iterator, Sequence

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from keyplan.core.exports import CHUNK_ROWS, Column, Table

# The growth × harmony quadrants as people read them (the payloads keep the keys); the one list for pages,
# downloads, the workbook and the deck.
QUADRANT_LABELS = {"invest": _("Invest: key account"), "develop": pgettext_lazy("selection quadrant", "Develop"),
                   "maintain": _("Maintain"), "deprioritise": _("Deprioritise")}


def matrix_table(criteria: Sequence) -> Table:
    from keyplan.accounts.models import Tier

    tiers = dict(Tier.choices)
    columns = [
        Column(_("Rank"), lambda r: r["rank"]),
        Column(_("Account"), lambda r: r["name"]),
        Column(_("External id"), lambda r: r["external_id"]),
        Column(_("Key status"), lambda r: tiers.get(r["tier"], r["tier"])),
        Column(_("Growth potential"), lambda r: None if r["growth_total"] is None else round(r["growth_total"], 2)),
        Column(_("Harmony"), lambda r: None if r["harmony_total"] is None else round(r["harmony_total"], 2)),
        Column(_("Total"), lambda r: None if r["total"] is None else round(r["total"], 2)),
        Column(_("Quadrant"), lambda r: QUADRANT_LABELS.get(r["quadrant"], "")),
    ]
    for criterion in criteria:
        columns.append(Column(criterion.name, lambda r, key=str(criterion.pk): r["scores"].get(key)))
    return Table("scoring-matrix", tuple(columns))


def in_chunks(positions: Sequence[int], fetch: Callable[[list[int]], Iterable]) -> Iterator:
    """The rows of ``positions``, fetched CHUNK_ROWS at a time (the matrix reads each page's rows the same way)."""
    for start in range(0, len(positions), CHUNK_ROWS):
        yield from fetch(list(positions[start:start + CHUNK_ROWS]))


def _count(value) -> int | None:
    return len(value) if isinstance(value, (list, tuple)) else None


ROUNDS = Table("selection-rounds", (
    Column(_("Round"), lambda r: r.name),
    Column(_("Date"), lambda r: r.date),
    Column(_("Capacity"), lambda r: r.capacity),
    Column(_("KAMs"), lambda r: r.kam_count),
    Column(_("Cut-off"), lambda r: r.cutoff),
    Column(_("Notes"), lambda r: r.notes),
    Column(_("Taken by"), lambda r: str(r.created_by) if r.created_by_id else ""),
))

REVIEWS = Table("key-status-reviews", (
    Column(_("As of"), lambda r: r.as_of),
    Column(_("Cadence"), lambda r: r.get_cadence_display()),
    Column(_("Judges round"), lambda r: r.round.name if r.round_id else ""),
    Column(_("Rising"), lambda r: _count((r.findings or {}).get("rising"))),
    Column(_("Underperforming"), lambda r: _count((r.findings or {}).get("underperforming"))),
    Column(_("Decisions"), lambda r: r.decisions.count()),
    Column(_("Notes"), lambda r: r.notes),
    Column(_("Run by"), lambda r: str(r.created_by) if r.created_by_id else ""),
))
