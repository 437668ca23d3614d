"""The ``keyplan`` command: demo, serve, migrate, createuser, token, import, analyze, …

Each subcommand is a thin adapter over the same services the web pages use. The parser is
built from the standard library alone and Django is set up only once the arguments are
good, so that ``keyplan --help`` and a usage error answer at once; each command imports
what it needs (Polars, SciPy, Plotly) itself.
"""

import argparse
import atexit
import getpass
import json
import os
import signal
import sys
from pathlib import Path

from keyplan import __version__
from keyplan.core import arguments
from keyplan.core.wording import counted

# The roles of keyplan.core.models.Role, written out so that the parser needs no Django
# (tests/core/test_cli.py holds them equal).
ROLES = ("admin", "kam_lead", "team_member", "viewer")


def setup_django() -> None:
    """Set Django up as every command does (the benchmarks' child processes too, to be timed as a command is)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
    import gc

    import django
    from django.apps import apps

    from keyplan.core.memory import gc_paused

    if apps.ready:  # a process that runs Django already (the tests): set up again only its logging, for its streams
        django.setup()
        return
    # Setting up loads some 1,000 modules whose objects live as long as the process; the cycle collector scanned
    # them over and over while they loaded (about 0.1 s of a 0.9 s `keyplan analyze`). Collect nothing while they
    # load, then set them aside for good (gc.freeze), so that later collections skip them.
    with gc_paused():
        django.setup()
        gc.freeze()
    # Frozen objects are not collected at exit either, and the database connections hang off them: close them
    # ourselves (SQLite folds its write-ahead log back into the database file when the last connection closes).
    from django.db import connections

    atexit.register(connections.close_all)


def _fail(message: str, code: int = 2) -> int:
    print(f"keyplan: error: {message}", file=sys.stderr)
    return code


def _database_problem(error: Exception) -> str | None:
    """What an operator can do about a database error, in one line: no server, no tables yet, a busy database.
    None for other errors (a fault in Keyplan)."""
    from django.db import OperationalError, connection

    from keyplan.core.busy import is_database_busy

    first = _first_line(error)
    if "no such table" in first or ("relation" in first and "does not exist" in first):
        return f"the database has no Keyplan tables yet ({first}): run `keyplan migrate` first"
    if is_database_busy(error):
        return "the database is busy (another process is writing to it): try again in a moment"
    if isinstance(error, OperationalError):
        check = ("that the file's folder exists and can be written" if connection.vendor == "sqlite"
                 else "that the database server is running and the database exists")
        return f"cannot use the database: {first}. Check KEYPLAN_DATABASE_URL and {check}"
    return None


def _first_line(error: Exception) -> str:
    """A database error's first line (drivers add hints on the next ones), or its kind when it says nothing."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def _migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    from keyplan.core.db import refresh_statistics

    call_command("migrate", interactive=False, verbosity=verbosity)
    refresh_statistics()


def cmd_migrate(args) -> int:
    _migrate(verbosity=1)
    return 0


def cmd_version(args) -> int:
    """The version, and how many migrations the database still needs: the first look before and after an upgrade."""
    import platform

    import django
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    info = {"keyplan": __version__, "python": platform.python_version(), "django": django.get_version(),
            "database": connection.vendor, "migrations_to_apply": None}
    try:
        executor = MigrationExecutor(connection)
        info["migrations_to_apply"] = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError as error:
        info["database_error"] = _first_line(error)
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"keyplan {info['keyplan']} (Python {info['python']}, Django {info['django']})")
    pending = info["migrations_to_apply"]
    if pending is None:
        print(f"database: {info['database']}, not reachable: {info['database_error']}")
    elif pending:
        print(f"database: {info['database']}, {counted(pending, 'migration')} to apply: back up, then `keyplan migrate` "
              f"(docs/deployment.md, Upgrading)")
    else:
        print(f"database: {info['database']}, up to date")
    return 0


def cmd_collectstatic(args) -> int:
    """The CSS, JavaScript and images into KEYPLAN_STATIC_ROOT, for a proxy that serves /static/ itself."""
    from django.conf import settings
    from django.core.management import call_command

    if not settings.STATIC_ROOT:
        return _fail("KEYPLAN_STATIC_ROOT is not set: name the folder the proxy serves /static/ from. Without a proxy "
                     "serving them, nothing needs collecting: keyplan serve serves the assets itself.")
    call_command("collectstatic", interactive=False, verbosity=0 if args.quiet else 1)
    return 0


def cmd_serve(args) -> int:
    from keyplan.core import serving

    # Take the port first: a port in use is one clear line at once (not a traceback after the migrations).
    try:
        sock = serving.listen(args.host, args.port)
    except serving.PortUnavailable as error:
        print(f"keyplan serve: {error}", file=sys.stderr)
        return 2
    if not args.no_migrate:
        _migrate()
    _recover_broken_imports()
    # A service manager stops us with SIGTERM: leave through the same path as Ctrl+C, so the worker stops too.
    # Either signal: stop listening, let the requests in flight finish (--drain), tell the worker to stop after its
    # running task; a second signal abandons them (keyplan/core/serving.py).
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    processes = args.processes or serving.default_processes()
    supervisor = None
    try:
        if not getattr(args, "no_worker", False):
            from keyplan.core.worker import Supervisor

            supervisor = Supervisor()  # restarts the worker whenever it exits, with a log line
            supervisor.start()
        print(f"Keyplan is serving on http://{args.host}:{args.port}/  (Ctrl+C to stop)", flush=True)
        serving.serve(sock, processes=processes, threads=args.threads, options=_proxy_options(),
                      drain=args.drain, on_stop=supervisor.request_stop if supervisor is not None else None)
    except KeyboardInterrupt:
        pass
    finally:
        if supervisor is not None:
            supervisor.stop()
        sock.close()
    print("Keyplan has stopped.", file=sys.stderr, flush=True)
    return 0


def _proxy_options() -> dict:
    """Behind KEYPLAN_TRUSTED_PROXY, waitress takes the client's scheme and address from that proxy's headers."""
    from django.conf import settings

    if not settings.KEYPLAN_TRUSTED_PROXY:
        return {}
    return {"trusted_proxy": settings.KEYPLAN_TRUSTED_PROXY, "trusted_proxy_count": 1,
            "trusted_proxy_headers": "x-forwarded-proto x-forwarded-for x-forwarded-host"}


def cmd_unlock(args) -> int:
    from axes.utils import reset

    if not (args.username or args.address or args.all):
        return _fail("give a user name, --address IP or --all")
    count = reset() if args.all else (reset(username=args.username) if args.username else 0) + (reset(ip=args.address) if args.address else 0)
    print(f"Cleared {counted(count, 'record')} of failed sign-ins.")
    return 0


def cmd_clearsessions(args) -> int:
    """Remove the expired sign-in sessions (they pile up in the database otherwise); safe to run any time."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    removed, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    left = Session.objects.count()
    print(json.dumps({"removed": removed, "left": left}) if args.json
          else f"Removed {removed} expired sessions; {left} remain.")
    return 0


def cmd_check(args) -> int:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    try:
        call_command("check", deploy=args.deploy, fail_level="WARNING")
    except SystemCheckError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def cmd_backup(args) -> int:
    from keyplan.core.backup import BackupError, backup

    try:
        made = backup(Path(args.out))
    except BackupError as error:
        return _fail(str(error))
    print(json.dumps(made) if args.json else f"Backed up the {made['database']} database to {made['path']} ({made['bytes']:,} bytes).")
    return 0


def cmd_restore(args) -> int:
    from keyplan.core.backup import BackupError, restore

    if not args.yes:
        if not sys.stdin.isatty():
            return _fail("restore replaces everything in the database; add --yes to confirm")
        if input(f"Replace everything in the database with {args.backup}? Type yes: ").strip().lower() != "yes":
            return _fail("nothing restored")
    try:
        done = restore(Path(args.backup))
    except BackupError as error:
        return _fail(str(error))
    _migrate()  # a backup from an older version gets this version's tables
    print(json.dumps(done) if args.json else f"Restored the {done['database']} database from {done['path']}.")
    return 0


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _recover_broken_imports() -> None:
    """Imports whose worker died (kill -9, a power cut) are found and discarded before new work starts; workbook jobs
    of such a worker are marked failed (they can be run again)."""
    from keyplan.core.worker import patiently
    from keyplan.revenue.tasks import recover_broken_imports

    for batch in patiently(recover_broken_imports):
        print(f"keyplan: import batch {batch.pk} ({batch.file_name}) broke off when its worker stopped; "
              f"its lines were removed and the file can be imported again.", file=sys.stderr, flush=True)
    from keyplan.reports.services import recover_broken_workbooks

    for job in patiently(recover_broken_workbooks):
        print(f"keyplan: workbook job {job.pk} was interrupted when its worker stopped; it can be run again.",
              file=sys.stderr, flush=True)


def cmd_worker(args) -> int:
    """Run background tasks (imports) from the database queue; `keyplan serve` starts one of these itself."""
    from keyplan.core.worker import run_worker

    _recover_broken_imports()
    run_worker(interval=args.interval, batch=args.batch, max_tasks=args.max_tasks, queue=args.queue, quiet=args.quiet)
    return 0


def _print_logins() -> None:
    from keyplan.demo.generator import DEMO_PASSWORD, demo_logins

    logins = demo_logins()
    if not logins:
        return
    print("\nDemo logins (password for all: %s)" % DEMO_PASSWORD)
    for login in logins:
        print(f"  {login.username:<8} {login.role:<20} sees {login.sees}")
    print()


def cmd_demo(args) -> int:
    from django.core.management import call_command

    from keyplan.accounts.models import Account
    from keyplan.core.db import refresh_statistics
    from keyplan.demo.generator import build_demo, database_is_empty

    _migrate()
    if args.reset:
        call_command("flush", interactive=False, verbosity=0)
    if database_is_empty():
        print(f"Building the demo portfolio: {args.accounts} accounts, seed {args.seed} …", flush=True)
        try:
            build_demo(accounts=args.accounts, seed=args.seed, progress=lambda step: print(f"  · {step}", flush=True))
        except ValueError as error:
            return _fail(str(error))
        refresh_statistics()
    else:
        print(f"The database already holds {Account.objects.count()} accounts; keeping them "
              "(run `keyplan demo --reset` to replace everything with the demo).")
    _print_logins()
    if args.no_serve:
        return 0
    args.no_migrate = True
    return cmd_serve(args)


def cmd_createuser(args) -> int:
    from django.core.exceptions import ValidationError

    from keyplan.core.services import create_user

    password = args.password or os.environ.get("KEYPLAN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            return _fail("give --password or KEYPLAN_PASSWORD when not at a terminal")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            return _fail("the passwords differ")
    try:
        user = create_user(
            username=args.username, password=password, role=args.role, email=args.email or "",
            first_name=args.first_name or "", last_name=args.last_name or "", kam_capacity=args.capacity,
        )
    except ValidationError as error:
        return _fail("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in _messages(error).items()))
    print(f"Created user {user.username} ({user.get_role_display()}).")
    return 0


def _messages(error) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"password": error.messages}


def cmd_token_create(args) -> int:
    from django.core.exceptions import ValidationError

    from keyplan.core.models import User
    from keyplan.core.services import create_token

    user = User.objects.filter(username=args.username, is_active=True).first()
    if user is None:
        return _fail(f"no active user is named {args.username!r}")
    try:
        secret = create_token(user, name=args.name or "", expires_in_days=args.expires_days)
    except ValidationError as error:
        return _fail("; ".join(m for ms in _messages(error).values() for m in ms))
    if args.json:
        print(json.dumps({"username": user.username, "token": secret}))
    else:
        print(secret)
    return 0


def cmd_token_list(args) -> int:
    from keyplan.core.models import ApiToken

    tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
    if args.username:
        tokens = tokens.filter(user__username=args.username)
    rows = [{"id": t.pk, "user": t.user.username, "name": t.name, "hint": t.hint + "…", "status": t.status,
             "created_at": t.created_at.isoformat(timespec="seconds"),
             "last_used_at": t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else None,
             "expires_at": t.expires_at.isoformat(timespec="seconds") if t.expires_at else None} for t in tokens]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['id']:>5}  {r['user']:<16} {r['hint']:<10} {r['status']:<8} expires {r['expires_at'] or 'never':<25} "
                  f"last used {r['last_used_at'] or 'never':<25} {r['name']}")
        if not rows:
            print("No tokens.")
    return 0


def cmd_token_revoke(args) -> int:
    from keyplan.core.models import ApiToken
    from keyplan.core.services import revoke_token

    token = ApiToken.objects.select_related("user").filter(pk=args.id).first()
    if token is None:
        return _fail(f"no token has id {args.id} (see `keyplan token list`)")
    revoke_token(token, by=None)
    print(json.dumps({"id": token.pk, "status": token.status}) if args.json else f"Revoked token {token.hint}… of {token.user.username}.")
    return 0


def _reader(username: str | None):
    """Whose view a read-only command takes: --as USERNAME, else None (the whole portfolio, for the operator)."""
    if username is None:
        return None
    from keyplan.core.models import User

    user = User.objects.filter(is_active=True, username=username).first()
    if user is None:
        raise SystemExit(_fail(f"--as: no active user is named {username!r}"))
    return user


def _acting_user(username: str | None):
    """Who a command acts as: --as USERNAME, else the first active admin (imports record who made them)."""
    from keyplan.core.models import Role, User

    users = User.objects.filter(is_active=True)
    user = users.filter(username=username).first() if username else users.filter(role=Role.ADMIN).order_by("pk").first()
    if user is None:
        raise SystemExit(_fail(f"no active user is named {username!r}" if username else
                               "no admin exists yet: create one with `keyplan createuser NAME --role admin`, or give --as USERNAME"))
    return user


class ProgressBar:
    """A one-line progress bar on standard error (only when it is a terminal or CI wants it)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.last = -1

    def __call__(self, fraction: float, message: str) -> None:
        percent = int(fraction * 100)
        if not self.enabled or percent == self.last:
            return
        self.last = percent
        filled = percent * 30 // 100
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}% {message:<12}")
        if percent >= 100:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs or []:
        source, sep, target = pair.rpartition("=")
        if not sep or not source or not target:
            raise SystemExit(_fail(f"--map {pair!r}: write SOURCE=FIELD, for example --map Kundennummer=account_id"))
        mapping[source] = target
    return mapping


def _print_import(result, *, as_json: bool, skip_invalid: bool = False) -> int:
    """Print what an import did (or a dry run would do); its exit code: 0 when it wrote (or would write) the file,
    1 when rejected rows stop it (a dry run with ``skip_invalid`` answers as the import with it would: 0)."""
    if as_json:
        print(json.dumps(result.as_dict(), default=str, indent=2))
    else:
        batch = result.batch
        if result.error_count:
            print(f"{counted(result.error_count, 'problem')} in {result.rows_rejected} of {counted(result.rows_total, 'row')}:", file=sys.stderr)
            for error in result.errors[:50]:
                print(f"  {error}", file=sys.stderr)
            if result.error_count > 50:
                print(f"  … and {result.error_count - 50} more (use --json for the first 1,000)", file=sys.stderr)
        if batch is not None and batch.status == "done":
            print(f"Imported batch {batch.pk}: {counted(result.rows_imported, 'row')} written, {result.rows_duplicate} already imported, "
                  f"{result.rows_rejected} rejected, {counted(result.accounts_created, 'account')} created.")
            if result.rejected_file:
                print(f"Rejected rows are in {result.rejected_file}")
        elif result.dry_run:
            new = result.rows_total - result.rows_duplicate - result.rows_rejected
            print(f"Dry run: {counted(result.rows_total, 'row')} read: {new} new, {result.rows_duplicate} already "
                  f"imported, {result.rows_rejected} would be rejected; "
                  f"{counted(result.accounts_created, 'account')} would be created; nothing was written.")
        else:
            print("Nothing was written: fix the rows above and import the file again "
                  "(or use --skip-invalid to import the good rows).", file=sys.stderr)
    ok = result.error_count == 0 or (result.batch is not None and result.batch.status == "done") \
        or (result.dry_run and skip_invalid)
    return 0 if ok else 1


def _saved_mapping(args, user) -> int | None:
    """--mapping NAME: the person's saved mapping goes before the --map pairs (which win); --save-mapping NAME
    saves the pairs given (with the saved ones) under that name. None, or the exit code of a refusal."""
    from django.core.exceptions import PermissionDenied, ValidationError

    from keyplan.revenue import mappings

    try:
        saved = mappings.saved_mapping(user, args.kind, args.mapping, field="--mapping") if args.mapping else {}
        if saved and not args.save_mapping:
            headers = _headers(args, saved)  # a saved mapping maps the columns this file has; the others are left out
            saved = {column: name for column, name in saved.items() if headers is None or column in headers}
        pairs = {**saved, **_parse_map(args.map)}
        if args.save_mapping:
            mappings.save_mapping(by=user, kind=args.kind, name=args.save_mapping, mapping=pairs)
            print(f"Saved your {args.kind} mapping {args.save_mapping!r} ({counted(len(pairs), 'column')}).", file=sys.stderr)
    except ValidationError as error:
        return _fail(" ".join(m for ms in error.message_dict.values() for m in ms))
    except PermissionDenied as error:
        return _fail(str(error))
    # Columns a saved mapping ignores stay out of --map (which needs a field); the file's own are left to detection.
    args.map = [f"{column}={name}" for column, name in pairs.items() if name]
    return None


def _headers(args, saved: dict[str, str]) -> list[str] | None:
    """The file's column names, or None when it cannot be read that way (the import then says why)."""
    from keyplan.revenue.reading import ReadError, known_columns, open_table
    from keyplan.revenue.uploads import kind_spec

    spec = kind_spec(args.kind)
    try:
        return open_table(Path(args.file), delimiter=args.delimiter, sheet=args.sheet,
                          fields=known_columns(spec.synonyms if spec is not None else {}, saved)).headers
    except (ReadError, OSError, ValueError):
        return None


def cmd_import(args) -> int:
    from django.core.exceptions import PermissionDenied

    from keyplan.revenue import services
    from keyplan.revenue.reading import ReadError

    user = _acting_user(args.as_user)
    if args.mapping or args.save_mapping:
        refused = _saved_mapping(args, user)
        if refused is not None:
            return refused
    if args.kind == "credit-ratings":
        return _import_credit_ratings(args, user)
    if args.kind in ("surveys", "usage", "tickets", "payments"):
        from keyplan.health import services as health

        function = {"surveys": health.import_surveys, "usage": health.import_usage, "tickets": health.import_tickets,
                    "payments": health.import_payments}[args.kind]
        try:
            result = function(args.file, by=user, options=services.SmallImportOptions(
                mapping=_parse_map(args.map), date_format=args.date_format, decimal=args.decimal,
                delimiter=args.delimiter, sheet=args.sheet, dry_run=args.dry_run))
        except (ReadError, PermissionDenied) as error:
            return _fail(str(error))
        return _print_import(result, as_json=args.json)
    if args.kind in ("calendar", "mail"):
        from keyplan.crm.commands import import_calendar, import_mail

        return (import_calendar if args.kind == "calendar" else import_mail)(args, user)
    if args.kind in ("accounts", "stakeholders", "interactions"):
        from keyplan.crm.commands import import_crm

        return import_crm(args, user, _parse_map(args.map))
    if args.kind == "opportunities":
        from keyplan.planning.commands import import_opportunities

        return import_opportunities(args, user, _parse_map(args.map))
    try:
        if args.kind == "ledger":
            options = services.LedgerOptions(
                mapping=_parse_map(args.map), date_format=args.date_format, decimal=args.decimal,
                delimiter=args.delimiter, sheet=args.sheet, create_accounts=args.create_accounts,
                skip_invalid=args.skip_invalid, dry_run=args.dry_run,
            )
            result = services.import_ledger(args.file, by=user, options=options,
                                            progress=ProgressBar(not args.json and sys.stderr.isatty()))
            return _print_import(result, as_json=args.json, skip_invalid=args.skip_invalid)
        else:
            options = services.SmallImportOptions(mapping=_parse_map(args.map), date_format=args.date_format,
                                                  decimal=args.decimal, delimiter=args.delimiter, sheet=args.sheet,
                                                  dry_run=args.dry_run)
            function = services.import_rates if args.kind == "rates" else services.import_subscriptions
            result = function(args.file, by=user, options=options)
    except ReadError as error:
        return _fail(str(error))
    except PermissionDenied as error:
        return _fail(str(error))
    return _print_import(result, as_json=args.json)


CREDIT_RATING_FIELDS = {
    "account_id": ("account_id", "account", "external_id", "customer_id", "customer", "klantnummer", "kundennummer", "cliente"),
    "credit_rating": ("credit_rating", "rating", "credit_score", "rating_class", "bonitat", "kredietwaardigheid", "merito_creditizio"),
}


def _import_credit_ratings(args, user) -> int:
    """Credit ratings (AAA … D) into the criteria computed from them (solvency): all rows or none."""
    from django.core.exceptions import PermissionDenied, ValidationError

    from keyplan.revenue.reading import ReadError, detect_mapping, iter_chunks, open_table
    from keyplan.scoring.services import import_credit_ratings

    try:
        table = open_table(args.file, delimiter=args.delimiter, sheet=args.sheet, fields=CREDIT_RATING_FIELDS)
        mapping = detect_mapping(table.headers, CREDIT_RATING_FIELDS) | {f: s for s, f in _parse_map(args.map).items()}
        missing = [f for f in CREDIT_RATING_FIELDS if f not in mapping]
        if missing:
            return _fail(f"no column for {', '.join(missing)}; the file has {', '.join(table.headers)} (use --map COLUMN=FIELD)")
        rows = [(ext or "", rating or "") for chunk in iter_chunks(table, [mapping["account_id"], mapping["credit_rating"]])
                for ext, rating in chunk.select(mapping["account_id"], mapping["credit_rating"]).iter_rows()]
        if args.dry_run:
            print(f"Dry run: {counted(len(rows), 'rating')} read; nothing was written.")
            return 0
        count = import_credit_ratings(rows, by=user)
    except ReadError as error:
        return _fail(str(error))
    except PermissionDenied as error:
        return _fail(str(error))
    except ValidationError as error:
        for message in error.messages:
            print(f"  {message}", file=sys.stderr)
        return _fail("nothing was written: fix the rows above and import the file again", code=1)
    if args.json:
        print(json.dumps({"ratings_imported": count}))
    else:
        print(f"Imported {counted(count, 'credit rating')} into the solvency criteria.")
    return 0


def cmd_imports(args) -> int:
    from keyplan.revenue.models import ImportBatch

    batches = ImportBatch.objects.select_related("created_by")[: args.limit]
    rows = [
        {"batch": b.pk, "kind": b.kind, "file": b.file_name, "status": b.status, "rows_imported": b.rows_imported,
         "rows_duplicate": b.rows_duplicate, "rows_rejected": b.rows_rejected, "by": b.created_by.username if b.created_by else None,
         "at": b.created_at.isoformat(timespec="seconds")}
        for b in batches
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['batch']:>5}  {r['at']}  {r['kind']:<13} {r['status']:<11} {r['rows_imported']:>10} rows  {r['file']}")
    return 0


def cmd_rollback(args) -> int:
    from django.core.exceptions import ValidationError

    from keyplan.revenue.models import ImportBatch
    from keyplan.revenue.services import rollback_batch

    batch = ImportBatch.objects.filter(pk=args.batch).first()
    if batch is None:
        return _fail(f"there is no import batch {args.batch}")
    try:
        rollback_batch(batch, by=_acting_user(args.as_user), broken_off=args.broken_off)
    except ValidationError as error:
        return _fail(" ".join(error.messages))
    print(f"Rolled back batch {batch.pk} ({batch.file_name}).")
    return 0


def _analyze_scores(args) -> int:
    """`keyplan analyze scores`: the same payload as GET /api/v1/analysis/scores."""
    from keyplan.scoring import services as scoring

    payload = scoring.scores_payload(_reader(args.as_user))
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    print(f"{payload['ranked']} of {len(payload['accounts'])} accounts ranked; {payload['formula']}.")
    for row in payload["accounts"][:25]:
        def fmt(value):
            return f"{value:5.2f}" if value is not None else "    —"
        print(f"  {row['rank'] or '—':>5}  {row['external_id']:<12} {row['name'][:40]:<40} growth {fmt(row['growth_total'])}"
              f"  harmony {fmt(row['harmony_total'])}  total {fmt(row['total'])}")
    return 0


def cmd_review_run(args) -> int:
    """Run a periodic review of key status and save it (the review page shows it too)."""
    from django.core.exceptions import PermissionDenied, ValidationError

    from keyplan.scoring import services as scoring
    from keyplan.scoring.models import SelectionRound

    user = _acting_user(args.as_user)
    selection_round = None
    if args.round:
        selection_round = SelectionRound.objects.filter(name=args.round).first()
        if selection_round is None:
            names = ", ".join(SelectionRound.objects.values_list("name", flat=True)[:20]) or "none yet"
            return _fail(f"there is no selection round named {args.round!r} (rounds: {names})")
    try:
        review = scoring.run_review(by=user, as_of=args.as_of, selection_round=selection_round, notes=args.notes or "")
    except (PermissionDenied, ValidationError) as error:
        return _fail(" ".join(getattr(error, "messages", [str(error)])))
    findings = review.findings
    if args.json:
        print(json.dumps({"id": review.pk, "as_of": review.as_of.isoformat(), "cadence": review.cadence, **findings},
                         indent=2, ensure_ascii=False))
        return 0
    print(f"Review {review.pk} as of {review.as_of}"
          + (f", judging round {findings['round']['name']} of {findings['round']['date']}" if findings["round"] else ""))
    print(f"Capacity {findings['capacity']} key accounts; {findings['key_accounts']} now"
          + (" (over capacity)" if findings["over_capacity"] else ""))
    print(f"Rising accounts: {len(findings['rising'])}")
    for item in findings["rising"][:10]:
        growth = f"{item['growth']:+.0%}" if item["growth"] is not None else "—"
        print(f"  {item['external_id']:<12} {item['name'][:40]:<40} growth {growth:>6}  total {item['total'] or '—'}")
    print(f"Underperforming key accounts: {len(findings['underperforming'])}")
    for item in findings["underperforming"][:10]:
        reasons = ", ".join(r["code"] for r in item["reasons"])
        print(f"  {item['external_id']:<12} {item['name'][:40]:<40} {reasons}")
    payoff = findings.get("payoff")
    if payoff:
        print("Do the criteria pay off? (Spearman rho with revenue growth / margin since the round)")
        for row in payoff["criteria"] + [payoff["overall"]]:
            def r(c):
                return f"{c['rho']:+.2f}" if c["rho"] is not None else "  —"
            verdict = "pays off" if row["pays_off"] else ("predicted nothing" if row["judged"] else "too few scores")
            print(f"  {row['name'][:32]:<32} {r(row['growth'])} / {r(row['margin'])}  {verdict}")
    elif findings.get("too_early"):
        print("The round is less than a month old: too early to judge its criteria.")
    return 0


def cmd_analyze(args) -> int:
    if args.name == "scores":
        return _analyze_scores(args)
    if args.name == "health":
        from keyplan.health.commands import analyze_health

        return analyze_health(args)
    from keyplan.revenue import portfolio

    if args.date_from and args.date_to and args.date_to < args.date_from:
        return _fail(f"--to ({args.date_to}) is before --from ({args.date_from})")
    if not args.thresholds[0] < args.thresholds[1]:
        return _fail(f"--thresholds: A ({args.thresholds[0]}) must be below B ({args.thresholds[1]})")
    scope = portfolio.Scope(_reader(args.as_user), industry=args.industry or "", country=(args.country or "").upper(), tier=args.tier or "",
                            kam=args.kam)
    options = portfolio.Options(start=args.date_from, end=args.date_to, threshold=args.threshold,
                                thresholds=tuple(args.thresholds), years=args.years, top=args.top, as_of=args.as_of,
                                horizon_months=args.horizon_months, discount_rate=args.discount_rate)
    try:
        payload = portfolio.run(args.name, scope, options)
    except ValueError as error:
        return _fail(str(error))
    if args.json:
        # Indented for a person at a terminal; one line for a program (Python's JSON encoder is a third
        # of the command's time at 2,000 accounts when it indents, as it then leaves its C encoder aside).
        print(json.dumps(payload, indent=2 if sys.stdout.isatty() else None, ensure_ascii=False))
    else:
        print(portfolio.summary(args.name, payload))
    return 0


def build_parser() -> argparse.ArgumentParser:
    import datetime

    parser = argparse.ArgumentParser(
        prog="keyplan",
        description="Keyplan: key account management for B2B companies.",
        epilog="Configuration comes from KEYPLAN_* environment variables; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"keyplan {__version__}",
                        help="print Keyplan's version and stop (keyplan version: also the database's state)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def serve_options(p):
        p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"),
                       help="address to listen on (default: $HOST, else 127.0.0.1; 0.0.0.0 for every interface)")
        p.add_argument("--port", type=arguments.whole_number(1, 65535), default=int(os.environ.get("PORT", "8000")),
                       help="TCP port (default: $PORT, else 8000)")
        p.add_argument("--threads", type=arguments.whole_number(1, 64), default=8,
                       help="request threads in each process, 1-64 (default 8)")
        p.add_argument("--processes", type=arguments.whole_number(1, 32), default=None,
                       help="web server processes, 1-32 (default: one per core, at most 4; a process runs Python "
                            "on one core at a time)")
        p.add_argument("--drain", type=arguments.number(0, 3600), default=20, metavar="SECONDS",
                       help="on SIGTERM or Ctrl+C: stop listening, then let requests in flight finish for up to this "
                            "many seconds, 0-3600 (default 20)")

    p = sub.add_parser("demo", help="migrate, load the demo portfolio into an empty database, print the logins and serve")
    p.add_argument("--accounts", type=arguments.whole_number(10, 200_000), default=2000,
                   help="number of accounts, 10-200,000 (default 2000)")
    p.add_argument("--seed", type=arguments.whole_number(0, 2**32 - 1), default=42,
                   help="random seed; the same seed gives the same portfolio (default 42)")
    p.add_argument("--no-serve", action="store_true", help="load and print the logins, then stop")
    p.add_argument("--reset", action="store_true", help="delete everything in the database first")
    serve_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="serve the web application and the API")
    serve_options(p)
    p.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    p.add_argument("--no-worker", action="store_true",
                   help="do not start a background worker (when workers run on their own: `keyplan worker`)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("collectstatic", help="copy the CSS, JavaScript and images into KEYPLAN_STATIC_ROOT for the "
                                             "proxy to serve (after each upgrade)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_collectstatic)

    p = sub.add_parser("version", help="Keyplan's version, and whether the database needs `keyplan migrate`")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func=cmd_version)

    p = sub.add_parser("worker", help="run background tasks (imports started on the web or the API)")
    p.add_argument("--batch", action="store_true", help="run the tasks waiting now, then stop")
    p.add_argument("--interval", type=arguments.number(0.01, 3600), default=1.0,
                   help="seconds between looks at an empty queue, 0.01-3600 (default 1)")
    p.add_argument("--max-tasks", type=arguments.whole_number(1, 1_000_000),
                   help="stop after this many tasks (a supervisor starts a fresh worker)")
    p.add_argument("--queue", default="default", help="queue names, comma-separated, or * for all (default: default)")
    p.add_argument("--quiet", action="store_true", help="do not log each task")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="create or upgrade the database tables")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("createuser", help="create a user with a role")
    p.add_argument("username", help="the new user's sign-in name")
    p.add_argument("--role", default="team_member", choices=ROLES, help="what the user may do (default: team_member)")
    p.add_argument("--password", help="the password (else KEYPLAN_PASSWORD, else asked)")
    p.add_argument("--email", help="e-mail address (notifications go there)")
    p.add_argument("--first-name", help="first name, as pages and exports show it")
    p.add_argument("--last-name", help="last name, as pages and exports show it")
    p.add_argument("--capacity", type=arguments.whole_number(0, 1000),
                   help="key accounts this person can carry as KAM, 0-1000 (default 5)")
    p.set_defaults(func=cmd_createuser)

    p = sub.add_parser("backup", help="write a consistent backup of the whole database to OUT (also while serving)")
    p.add_argument("out", help="the backup file to write")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the whole database with a backup made by `keyplan backup` (stop serving first)")
    p.add_argument("backup", help="the backup file")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("clearsessions", help="remove expired sign-in sessions (run daily, e.g. from a systemd timer)")
    p.add_argument("--json", action="store_true", help="print {removed, left} as JSON")
    p.set_defaults(func=cmd_clearsessions)

    p = sub.add_parser("unlock", help="let a user name or an address sign in again after too many wrong passwords")
    p.add_argument("username", nargs="?", help="the locked user name")
    p.add_argument("--address", help="a locked IP address")
    p.add_argument("--all", action="store_true", help="every locked user name and address")
    p.set_defaults(func=cmd_unlock)

    p = sub.add_parser("check", help="check the configuration; --deploy: as production needs it (HTTPS, cookies, secret key)")
    p.add_argument("--deploy", action="store_true", help="also the checks for a production deployment")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("token", help="create, list and revoke API tokens for scripts")
    token_sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    t = token_sub.add_parser("create", help="create an API token for USERNAME and print it")
    t.add_argument("username", help="whose token: it acts with this user's rights")
    t.add_argument("--name", help="what the token is for")
    t.add_argument("--expires-days", type=int, help="days until the token stops working (default: never)")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=cmd_token_create)
    t = token_sub.add_parser("list", help="list API tokens (never the secrets), of USERNAME or everyone")
    t.add_argument("username", nargs="?", help="only this user's tokens (default: everyone's)")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=cmd_token_list)
    t = token_sub.add_parser("revoke", help="revoke the token with the id `token list` shows")
    t.add_argument("id", type=arguments.identifier, help="the token's id (`keyplan token list` shows them)")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=cmd_token_revoke)

    p = sub.add_parser("import", help="import a revenue ledger, subscriptions, exchange rates, credit ratings, surveys, "
                                      "usage, tickets, payments, opportunities, accounts, stakeholders or interactions (CSV or XLSX), "
                                      "or meetings from a calendar (.ics) and e-mails (.eml, .mbox)")
    p.add_argument("kind", choices=["ledger", "subscriptions", "rates", "credit-ratings", "surveys", "usage", "tickets",
                                    "payments", "opportunities", "accounts", "stakeholders", "interactions", "calendar", "mail"],
                   help="what the file holds")
    p.add_argument("file", help="the file to import (CSV, XLSX; .ics for calendar; .eml or .mbox for mail)")
    p.add_argument("--map", action="append", metavar="SOURCE=FIELD", help="map a column of the file to a field (repeatable)")
    p.add_argument("--date-format", help="strftime format of the dates, e.g. %%d.%%m.%%Y (detected when left out)")
    p.add_argument("--decimal", choices=[".", ","], help="decimal separator of amounts (detected when left out)")
    p.add_argument("--delimiter", help="CSV delimiter (detected when left out); \\t for tab")
    p.add_argument("--sheet", help="XLSX sheet (default: the first)")
    p.add_argument("--create-accounts", action="store_true", help="create unknown accounts (ledger)")
    p.add_argument("--skip-invalid", action="store_true", help="import the good rows; write the rejected ones beside the file")
    p.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    p.add_argument("--preset", metavar="CRM", help="accounts, stakeholders: read the file as an export of Salesforce, HubSpot, "
                                                   "Dynamics 365, Odoo or Pipedrive (default: recognised from the columns)")
    p.add_argument("--mapping", metavar="NAME", help="read the columns with a mapping you saved (on the import preview, "
                                                     "through the API or with --save-mapping); --map pairs win over it")
    p.add_argument("--save-mapping", metavar="NAME", help="save the --map pairs (with --mapping's) under NAME for the "
                                                          "next file of this kind")
    p.add_argument("--with-body", action="store_true", help="mail: keep the first message's text with the subject "
                                                            "(not stored unless asked for)")
    p.add_argument("--source", metavar="SYSTEM", help="accounts, stakeholders: the CRM the file comes from, kept with each "
                                                      "record (default: recognised from the columns, else 'file')")
    p.add_argument("--as", dest="as_user", metavar="USERNAME", help="who imports (default: the first admin)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("imports", help="list import batches, newest first")
    p.add_argument("--limit", type=arguments.whole_number(1, 10_000), default=50,
                   help="how many batches, 1-10,000 (default 50)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_imports)

    p = sub.add_parser("rollback", help="undo an import batch (its lines leave the ledger and the rollups)")
    p.add_argument("batch", type=arguments.identifier, help="the batch number (`keyplan imports` lists them)")
    p.add_argument("--broken-off", action="store_true",
                   help="discard an import whose worker was killed before it finished (no worker may be running it)")
    p.add_argument("--as", dest="as_user", metavar="USERNAME", help="who rolls it back (default: the first admin)")
    p.set_defaults(func=cmd_rollback)

    today = datetime.date.today()
    p = sub.add_parser(
        "analyze", help="portfolio analyses: pareto, abc, mrr, profitability, concentration, clv, scores, health",
        description="Read-only: prints an analysis of the whole portfolio, or of what --as USERNAME may see. "
                    "Needs no admin and writes nothing.",
    )
    p.add_argument("name", choices=["pareto", "abc", "mrr", "profitability", "concentration", "clv", "scores", "health"],
                   help="which analysis")
    p.add_argument("--from", dest="date_from", type=arguments.day(), metavar="YYYY-MM-DD",
                   help="first day of the period (default: the first of the month 11 months before the period's "
                        "last day, so that the period is the last 12 months that have data)")
    p.add_argument("--to", dest="date_to", type=arguments.day(), metavar="YYYY-MM-DD",
                   help="last day of the period (default: the ledger's last day; with --from alone, today "
                        "or the ledger's last day, whichever is later)")
    p.add_argument("--threshold", type=arguments.number(0, 1, above_low=True), default=0.8, metavar="SHARE",
                   help="pareto: share of revenue the vital few reach, above 0 to 1 (default 0.8)")
    p.add_argument("--thresholds", type=arguments.number(0, 1, above_low=True), nargs=2, default=[0.8, 0.95],
                   metavar=("A", "B"), help="abc: cumulative shares that end classes A and B (default 0.8 0.95)")
    p.add_argument("--years", type=arguments.whole_number(1, 20), default=3, metavar="N",
                   help="abc, concentration: this many calendar years up to the year of the ledger's last day "
                        "(none before its first), 1-20 (default 3); --from/--to choose the years instead")
    p.add_argument("--top", type=arguments.whole_number(1, 1000), default=10, metavar="N",
                   help="concentration: share of the top N accounts, 1-1000 (default 10)")
    p.add_argument("--as-of", type=arguments.day(latest=today), metavar="YYYY-MM-DD",
                   help="clv: the day the purchase model stands on: it learns from the ledger up to that day and "
                        "looks ahead from it; not after today (default: the ledger's last day)")
    p.add_argument("--horizon-months", type=arguments.whole_number(1, 120), default=12, metavar="N",
                   help="clv: months of future purchases the value counts, 1-120 (default 12)")
    p.add_argument("--discount-rate", type=arguments.number(0, 1), default=0.10, metavar="RATE",
                   help="clv: yearly discount rate, 0-1 (default 0.10)")
    p.add_argument("--industry", help="only accounts of this industry")
    p.add_argument("--country", help="only accounts in this country (ISO code, e.g. NL)")
    p.add_argument("--tier", choices=["key", "candidate", "standard"], help="only accounts of this key status (health: default key)")
    p.add_argument("--kam", type=arguments.identifier, metavar="USER_ID", help="only accounts this user is KAM of")
    p.add_argument("--as", dest="as_user", metavar="USERNAME",
                   help="only what this user may see (default: the whole portfolio)")
    p.add_argument("--json", action="store_true", help="print the analysis as JSON")
    p.set_defaults(func=cmd_analyze)

    from keyplan.relationships.commands import add_commands as add_relationship_commands

    add_relationship_commands(sub)  # keyplan relationships stale | who-to-win | map | meetings

    from keyplan.planning.commands import add_commands as add_planning_commands

    add_planning_commands(sub)  # keyplan plans

    from keyplan.health.commands import add_commands as add_health_commands

    add_health_commands(sub)  # keyplan health snapshot | queue | reviews

    from keyplan.reports.commands import add_commands as add_report_commands

    add_report_commands(sub)  # keyplan export workbook

    p = sub.add_parser("review", help="periodic review of key status (rising and underperforming accounts, do the criteria pay off)")
    review_sub = p.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    r = review_sub.add_parser("run", help="run a review now and save it")
    r.add_argument("--as-of", type=arguments.day(latest=today), metavar="YYYY-MM-DD", help="the day the review looks back from (default today)")
    r.add_argument("--round", help="name of the selection round to judge (default: the latest one taken on or before --as-of)")
    r.add_argument("--notes", help="a note saved with the review")
    r.add_argument("--as", dest="as_user", metavar="USERNAME", help="who runs it (default: the first admin)")
    r.add_argument("--json", action="store_true", help="print the review as JSON")
    r.set_defaults(func=cmd_review_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help and usage errors end here, before Django is loaded
    from django.core.exceptions import ImproperlyConfigured

    try:
        setup_django()
    except ImproperlyConfigured as error:  # an unsafe production set-up: one line, no traceback
        return _fail(str(error))
    from django.db import DatabaseError

    try:
        return args.func(args)
    except DatabaseError as error:
        problem = _database_problem(error)
        if problem is None:
            raise  # a fault of ours: its traceback is what a bug report needs
        return _fail(problem, code=1)
    except SystemExit as stop:  # a helper deep in a command refused (e.g. --as names nobody): the same code, returned
        return stop.code if isinstance(stop.code, int) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (head, less) went away: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
