from django import forms
from django.utils import translation
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe


class FastSelect(forms.Select):
    """A <select> rendered in Python: Django's per-option templates cost ~80 ms for a country list."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = {str(v) for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not None}
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        options = format_html_join(
            "",
            "<option value=\"{}\"{}>{}</option>",
            (
                (option_value, mark_safe(" selected") if str(option_value) in selected else "", label)
                for option_value, label in self.choices
            ),
        )
        attributes = mark_safe("".join(
            f" {k}" if v is True else f' {k}="{conditional_escape(v)}"'
            for k, v in final_attrs.items()
            if v is not False and v is not None
        ))
        return format_html("<select{}>{}</select>", attributes, options)


class CountrySelect(FastSelect):
    """A FastSelect of the countries, whose options depend on the reader's language only (some 250, sorted by their
    names in that language: 2.4 ms a page): each rendering is kept per language, name, value and attributes."""

    _rendered: dict = {}

    def render(self, name, value, attrs=None, renderer=None):
        key = (translation.get_language(), name, repr(value), repr(sorted({**self.attrs, **(attrs or {})}.items())))
        html = self._rendered.get(key)
        if html is None:
            if len(self._rendered) > 256:  # a few per language and filter form; never many
                self._rendered.clear()
            html = self._rendered[key] = super().render(name, value, attrs, renderer)
        return html
