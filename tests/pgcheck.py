"""Exit 0 when PostgreSQL answers at the URL given, 1 otherwise (used by `make test`)."""

import sys

import psycopg

url = sys.argv[1]
try:
    # Connect to the maintenance database: the test database itself is created by the tests.
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3):
        pass
except psycopg.Error as error:
    print(f"PostgreSQL check failed: {error}".strip(), file=sys.stderr)
    sys.exit(1)
