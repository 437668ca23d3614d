"""The ``keyplan`` command: demo, serve, migrate, createuser, token.

Each subcommand is a thin adapter over the same services the web pages use.
"""

import argparse
import getpass
import json
import os
import sys


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
    import django

    django.setup()


def _fail(message: str, code: int = 2) -> int:
    print(f"keyplan: error: {message}", file=sys.stderr)
    return code


def _migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    from keyplan.core.db import refresh_statistics

    call_command("migrate", interactive=False, verbosity=verbosity)
    refresh_statistics()


def cmd_migrate(args) -> int:
    _migrate(verbosity=1)
    return 0


def cmd_serve(args) -> int:
    from waitress import serve

    from keyplan.wsgi import application

    if not args.no_migrate:
        _migrate()
    print(f"Keyplan is serving on http://{args.host}:{args.port}/  (Ctrl+C to stop)", flush=True)
    serve(application, host=args.host, port=args.port, threads=args.threads, ident="keyplan")
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
    from keyplan.core.models import User
    from keyplan.core.services import create_token

    user = User.objects.filter(username=args.username, is_active=True).first()
    if user is None:
        return _fail(f"no active user is named {args.username!r}")
    secret = create_token(user, name=args.name or "")
    if args.json:
        print(json.dumps({"username": user.username, "token": secret}))
    else:
        print(secret)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from keyplan.core.models import Role

    parser = argparse.ArgumentParser(
        prog="keyplan",
        description="Keyplan: key account management for B2B companies.",
        epilog="Configuration comes from KEYPLAN_* environment variables; see the README.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def serve_options(p):
        p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        p.add_argument("--threads", type=int, default=8)

    p = sub.add_parser("demo", help="migrate, load the demo portfolio into an empty database, print the logins and serve")
    p.add_argument("--accounts", type=int, default=2000, help="number of accounts (default 2000)")
    p.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same portfolio")
    p.add_argument("--no-serve", action="store_true", help="load and print the logins, then stop")
    p.add_argument("--reset", action="store_true", help="delete everything in the database first")
    serve_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="serve the web application and the API")
    serve_options(p)
    p.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="create or upgrade the database tables")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("createuser", help="create a user with a role")
    p.add_argument("username")
    p.add_argument("--role", default=Role.TEAM_MEMBER, choices=Role.values)
    p.add_argument("--password", help="the password (else KEYPLAN_PASSWORD, else asked)")
    p.add_argument("--email")
    p.add_argument("--first-name")
    p.add_argument("--last-name")
    p.add_argument("--capacity", type=int, help="key accounts this person can carry as KAM (default 5)")
    p.set_defaults(func=cmd_createuser)

    p = sub.add_parser("token", help="API tokens")
    token_sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    t = token_sub.add_parser("create", help="create an API token for USERNAME and print it")
    t.add_argument("username")
    t.add_argument("--name", help="what the token is for")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=cmd_token_create)
    return parser


def main(argv: list[str] | None = None) -> int:
    _setup_django()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
