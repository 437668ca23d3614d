"""Plotly's locale for each language: month names in that language, whatever language was asked for before."""

from django.conf import settings
from django.utils import translation

from keyplan.web.chart_locale import _locale_for, plotly_locale


def test_month_names_stay_each_languages_own_in_any_order():
    # Babel shares the data behind aliased names between locales: a Chinese locale asked for first once gave the
    # Persian charts "1月". Ask in an order that puts zh-hans before fa and fa before zh-hans.
    _locale_for.cache_clear()
    seen = {}
    for code in ["zh-hans", "fa", "de", "zh-hans", "fa", "en", "nl", "it"]:
        with translation.override(code):
            months = plotly_locale()["format"]["shortMonths"]
        assert seen.setdefault(code, months) == months
        _locale_for.cache_clear()  # each time from Babel, as a new process would
    assert seen["fa"][0] == "ژانویه" and seen["zh-hans"][0] == "1月" and seen["en"][0] == "Jan"
    assert len({tuple(m) for m in seen.values()}) == len(seen)  # no two languages share their names
    assert set(seen) == {code for code, _name in settings.LANGUAGES}
