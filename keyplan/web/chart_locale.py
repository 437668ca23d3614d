"""Plotly in the reader's language: the toolbar's words (translated here) and the month and day names of date axes
(CLDR through Babel), handed to charts.js as Plotly's ``config.locales``. Digits and separators are the pages' own
(``layout.separators`` and charts.js for Persian digits)."""

from functools import lru_cache

from django.utils import translation
from django.utils.translation import pgettext

from keyplan.core.numbers import locale_of

# Plotly's own English words (its dictionary keys), as its toolbar and notifier show them.
TOOLBAR = [
    "Download plot as a PNG",
    "Zoom",
    "Pan",
    "Box Select",
    "Lasso Select",
    "Zoom in",
    "Zoom out",
    "Autoscale",
    "Reset axes",
    "Toggle Spike Lines",
    "Show closest data on hover",
    "Compare data on hover",
    "Double-click to zoom back out",
    "Preparing image - this may take a few seconds",
    "Image download succeeded",
]


def _toolbar_words() -> dict[str, str]:
    # Listed for makemessages: the words are looked up by their English text below.
    pgettext("chart toolbar", "Download plot as a PNG")
    pgettext("chart toolbar", "Zoom")
    pgettext("chart toolbar", "Pan")
    pgettext("chart toolbar", "Box Select")
    pgettext("chart toolbar", "Lasso Select")
    pgettext("chart toolbar", "Zoom in")
    pgettext("chart toolbar", "Zoom out")
    pgettext("chart toolbar", "Autoscale")
    pgettext("chart toolbar", "Reset axes")
    pgettext("chart toolbar", "Toggle Spike Lines")
    pgettext("chart toolbar", "Show closest data on hover")
    pgettext("chart toolbar", "Compare data on hover")
    pgettext("chart toolbar", "Double-click to zoom back out")
    pgettext("chart toolbar", "Preparing image - this may take a few seconds")
    pgettext("chart toolbar", "Image download succeeded")
    return {word: pgettext("chart toolbar", word) for word in TOOLBAR}


def _names(names: dict, first: int = 0) -> list[str]:
    keys = sorted(names)
    return [names[k] for k in keys[first:] + keys[:first]]


@lru_cache(maxsize=16)
def _locale_for(language: str) -> dict:
    locale = locale_of(language)
    with translation.override(language):
        dictionary = _toolbar_words()
    # Babel numbers weekdays from Monday (0); Plotly's lists start on Sunday.
    return {
        "name": language,
        "dictionary": dictionary,
        "format": {
            # The format forms, which every locale spells out: Babel (2.18) resolves the stand-alone forms through an
            # alias in data that locales share, so after a Chinese page a Persian one got "1月" (seen in a browser test).
            "months": _names(locale.months["format"]["wide"]),
            "shortMonths": _names(locale.months["format"]["abbreviated"]),
            "days": _names(locale.days["format"]["wide"], 6),
            "shortDays": _names(locale.days["format"]["abbreviated"], 6),
        },
    }


def plotly_locale() -> dict:
    """Plotly's locale for the active language."""
    return _locale_for(translation.get_language() or "en")
