"""The review deck's template: the company's own .pptx (``KEYPLAN_DECK_TEMPLATE``) or Keyplan's plain one.

A template gives the deck its look: slide size, master, backgrounds, logos, fonts and colours. Keyplan
uses two of its slide layouts and the placeholders in them; everything else in it stays as designed.

- **Layouts.** The title slide uses the layout named ``Keyplan Title`` (else ``Title Slide``, else the
  first layout); every other slide the layout named ``Keyplan Content`` (else ``Title Only``, else the
  first layout with a title). In PowerPoint: View → Slide Master, right-click a layout → Rename Layout.
- **Placeholders.** The layout's title placeholder gets the slide's title. On the title layout, the
  subtitle placeholder gets "Account review", the date and who prepared it. On the content layout, a
  placeholder named ``Keyplan Body`` (Home → Arrange → Selection Pane to rename it) marks the area the
  tables, charts and drawings fill; without one, they fill the slide below the title.
- **Tokens.** In any text on the masters and layouts (a footer, a confidentiality line), ``{account}``,
  ``{external_id}``, ``{date}`` and ``{prepared_by}`` are replaced with the account's name, its external id,
  the deck's date and the user who made it.
- The template's own slides are left out of the deck.

`default_template()` builds the plain template in code (16:9, a dark band under the title, a footer
with the tokens); ``keyplan export deck-template OUT.pptx`` writes it as a starting point.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE, PP_PLACEHOLDER
from pptx.util import Emu, Inches, Pt

TITLE_LAYOUT = "Keyplan Title"
CONTENT_LAYOUT = "Keyplan Content"
BODY_PLACEHOLDER = "Keyplan Body"
TOKENS = ("account", "external_id", "date", "prepared_by")
TITLE_TYPES = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE)
BRAND = RGBColor(0x1F, 0x29, 0x37)
ACCENT = RGBColor(0x1D, 0x4E, 0xD8)
WIDE = Emu(12192000)  # 13.333 in: 16:9 at 7.5 in high


class TemplateError(Exception):
    """The deck template cannot be used (missing, not a .pptx, no layout with a title)."""


@dataclass(frozen=True)
class Area:
    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height


def configured_path() -> str:
    return str(getattr(settings, "KEYPLAN_DECK_TEMPLATE", "") or "")


def load(path: str | None = None):
    """The template to build on: ``path``, else KEYPLAN_DECK_TEMPLATE, else the plain one. Raises TemplateError."""
    path = configured_path() if path is None else path
    if not path:
        return default_template()
    file = Path(path)
    if not file.is_file():
        raise TemplateError(f"KEYPLAN_DECK_TEMPLATE: {path!r} is not a file")
    try:
        presentation = Presentation(str(file))
    except Exception as error:  # a zip that is no presentation, a .potx, a broken file: all the same to the user
        raise TemplateError(f"KEYPLAN_DECK_TEMPLATE: {path!r} is not a PowerPoint presentation (.pptx): {error}") from error
    if content_layout(presentation) is None:
        raise TemplateError(f"KEYPLAN_DECK_TEMPLATE: {path!r} has no slide layout with a title placeholder")
    _drop_slides(presentation)
    return presentation


def _drop_slides(presentation) -> None:
    ids = presentation.slides._sldIdLst
    for slide_id in list(ids):
        presentation.part.drop_rel(slide_id.rId)
        ids.remove(slide_id)


def _title_of(layout):
    return next((ph for ph in layout.placeholders if ph.placeholder_format.type in TITLE_TYPES), None)


def _named(presentation, name: str):
    return next((layout for layout in presentation.slide_layouts if layout.name.strip().casefold() == name.casefold()), None)


def title_layout(presentation):
    return _named(presentation, TITLE_LAYOUT) or _named(presentation, "Title Slide") or presentation.slide_layouts[0]


def content_layout(presentation):
    layout = _named(presentation, CONTENT_LAYOUT) or _named(presentation, "Title Only")
    if layout is not None and _title_of(layout) is not None:
        return layout
    with_title = [layout for layout in presentation.slide_layouts if _title_of(layout) is not None]
    return min(with_title, key=lambda layout: len(layout.placeholders)) if with_title else None


def body_area(presentation, layout) -> Area:
    """Where a content slide's tables and charts go: the ``Keyplan Body`` placeholder, else below the title."""
    width, height = presentation.slide_width, presentation.slide_height
    body = next((ph for ph in layout.placeholders if ph.name.strip().casefold() == BODY_PLACEHOLDER.casefold()), None)
    if body is not None and body.width and body.height:
        return Area(int(body.left), int(body.top), int(body.width), int(body.height))
    margin = int(width * 0.04)
    title = _title_of(layout)
    top = int(title.top + title.height + Inches(0.15)) if title is not None and title.height else int(height * 0.2)
    bottom = int(height - Inches(0.55))
    return Area(margin, top, int(width - 2 * margin), max(bottom - top, int(height * 0.4)))


def replace_tokens(presentation, values: dict[str, str]) -> None:
    """``{account}`` and the other tokens in the masters' and layouts' texts, replaced run by run."""
    holders = list(presentation.slide_masters) + list(presentation.slide_layouts)
    for holder in holders:
        for shape in holder.shapes:
            if not shape.has_text_frame:
                continue
            for paragraph in shape.text_frame.paragraphs:
                for run in paragraph.runs:
                    if "{" in run.text:
                        text = run.text
                        for token in TOKENS:
                            text = text.replace("{" + token + "}", values.get(token, ""))
                        run.text = text


def default_template():
    """Keyplan's plain template, built from python-pptx's own: widened to 16:9, a band under the title, a footer."""
    presentation = Presentation()
    factor = WIDE / presentation.slide_width
    presentation.slide_width = WIDE
    for holder in [presentation.slide_master, *presentation.slide_layouts]:
        for shape in holder.shapes:
            if shape._element.xfrm is not None:  # its own position (a layout's placeholder may inherit the master's)
                shape.left, shape.width = int(shape.left * factor), int(shape.width * factor)
    title_slide = presentation.slide_layouts[0]
    title_slide.name = TITLE_LAYOUT
    content = presentation.slide_layouts[5]
    content.name = CONTENT_LAYOUT
    title = _title_of(content)
    left, width = title.left, title.width  # inherited from the master: all four are written once one is
    title.left, title.width, title.top, title.height = left, width, Inches(0.25), Inches(0.85)
    for layout in (title_slide, content):
        for ph in list(layout.placeholders):
            if ph.placeholder_format.type in (PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER):
                ph._element.getparent().remove(ph._element)
    # Shapes cannot be added to a layout directly: draw them on a scratch slide and move them over.
    scratch = presentation.slides.add_slide(presentation.slide_layouts[6])
    band = scratch.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, Inches(1.12), WIDE, Inches(0.06))
    band.fill.solid()
    band.fill.fore_color.rgb = ACCENT
    band.line.fill.background()
    footer = scratch.shapes.add_textbox(Inches(0.5), presentation.slide_height - Inches(0.45), WIDE - Inches(1.0), Inches(0.3))
    run = footer.text_frame.paragraphs[0].add_run()
    run.text = "Keyplan · {account} ({external_id}) · {date}"
    run.font.size = Pt(10)
    run.font.color.rgb = RGBColor(0x6B, 0x72, 0x80)
    cover = scratch.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, WIDE, Inches(0.35))
    cover.fill.solid()
    cover.fill.fore_color.rgb = BRAND
    cover.line.fill.background()
    tree = content.shapes._spTree
    tree.append(copy.deepcopy(band._element))
    tree.append(copy.deepcopy(footer._element))
    title_slide.shapes._spTree.append(copy.deepcopy(cover._element))
    _drop_slides(presentation)
    return presentation


def default_template_bytes() -> bytes:
    buffer = io.BytesIO()
    default_template().save(buffer)
    return buffer.getvalue()
