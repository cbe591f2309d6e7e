"""`checkpoint user`: manage the web app's accounts (add, list, passwd, disable, enable, unlock)."""

from __future__ import annotations

import sys

NAME = "user"
HELP = "manage web app accounts: add, list, passwd, disable, enable, unlock"
DESCRIPTION = """Manage the web app's accounts.

  checkpoint user add NAME --role guard|manager|admin [--language id|en] [--password-stdin]
  checkpoint user list
  checkpoint user passwd NAME [--password-stdin]
  checkpoint user disable NAME | enable NAME
  checkpoint user unlock NAME

The password is asked for twice at the terminal, or read from the first line of
standard input with --password-stdin (for scripts). Passwords have 8 to 128
characters and may not be the user name, only spaces, a repeated character or
run (aaaaaaaa, 12345678), or one of the commonest passwords. Roles: guard
(screen, overrides, exits), manager (log, reports, export, API), admin
(everything).

passwd, disable, enable and unlock end every open session of the account.
unlock is the way in from the console when failed sign-ins by someone else
have made the web app delay the account's sign-ins: the delay starts over at
once (the running web app reads the account's session generation, so no
restart is needed). A new password (passwd) does the same."""


def configure(parser) -> None:
    parser.add_argument("action", choices=["add", "list", "passwd", "disable", "enable", "unlock"], help="what to do")
    parser.add_argument("name", nargs="?", help="user name")
    parser.add_argument("--role", choices=["guard", "manager", "admin"], help="role of a new user")
    parser.add_argument("--language", choices=["id", "en"], help="the user's language (default: the browser's)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ")
    return first


def run(args) -> int:
    from sqlmodel import Session, select

    from checkpoint.cli import settings_from_args
    from checkpoint.db import open_database
    from checkpoint.models import User
    from web.users import UserError, create_user, find_user, set_active, set_password, unlock

    if args.action != "list" and not args.name:
        print(f"checkpoint user {args.action}: a user NAME is needed", file=sys.stderr)
        return 2
    if args.action == "add" and not args.role:
        print("checkpoint user add: --role is needed (guard, manager or admin)", file=sys.stderr)
        return 2
    settings = settings_from_args(args)
    engine = open_database(settings.database_url)
    try:
        with Session(engine) as session:
            if args.action == "list":
                for listed in session.exec(select(User).order_by(User.username)):
                    state = "active" if listed.active else "disabled"
                    print(f"{listed.username}\t{listed.role}\t{listed.language or '-'}\t{state}")
                return 0
            if args.action == "add":
                create_user(session, args.name, _password(args), args.role, args.language)
                print(f"user {args.name} ({args.role}) added")
                return 0
            user = find_user(session, args.name)
            if user is None:
                print(f"checkpoint user: no user {args.name!r}", file=sys.stderr)
                return 1
            if args.action == "passwd":
                set_password(session, user, _password(args))
            elif args.action == "unlock":
                unlock(session, user)
            else:
                set_active(session, user, args.action == "enable")
            print(f"user {args.name}: {args.action} done")
            return 0
    except (UserError, ValueError) as exc:
        print(f"checkpoint user: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
