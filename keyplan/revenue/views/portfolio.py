"""The portfolio page and one page per analysis."""
