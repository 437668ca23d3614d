"""Revenue pages: the portfolio analyses (portfolio.py) and the imports (imports.py)."""
