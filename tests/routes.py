"""Every route of the site, as the tests that cover all of them walk it."""

from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver


def routes(patterns=None, prefix: str = "", namespace: str | None = None) -> Iterator[tuple[str, str, URLPattern]]:
    """(route, namespaced name, pattern) for each URL pattern, included ones too."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern
