"""User data in running text keeps its own direction on a right-to-left page.

HTML pages wrap names, ids, e-mails and ranges in ``<bdi>`` (or ``dir="auto"`` on a block). Where there is no
markup (SVG tooltips, plain-text exports), ``isolate`` brackets the text with the Unicode first-strong isolate
(U+2068) and the pop directional isolate (U+2069): "Zenittron Health N.V." then stays as written inside a
Persian sentence instead of reading ".Zenittron Health N.V".
"""

FSI = "\u2068"
PDI = "\u2069"


def isolate(text: str) -> str:
    """``text`` between FSI and PDI; empty text stays empty."""
    return f"{FSI}{text}{PDI}" if text else text
