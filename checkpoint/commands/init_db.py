"""`checkpoint init-db`: create or migrate the entry log's schema (the owner's command)."""

from __future__ import annotations

import sys

NAME = "init-db"
HELP = "create or upgrade the database schema (alembic upgrade head), as its owner"
DESCRIPTION = """Create the entry log's tables, or migrate them to the current schema.

Uses [database] url from the configuration (default: a SQLite file in the data
directory), or --database URL. Safe to run again: it only applies what is missing.

A central PostgreSQL database is migrated only by this command, run by an
administrator with the owner's login. Gates and the web app log in with roles
that cannot change the schema; they check its revision and say when this
command is needed.

  --grant-roles   after migrating, leave the gate and web roles with exactly
                  their privileges (docs/multi-gate.md); run it after every upgrade
  --print-grants  print the roles and grants as a psql script, connect to nothing"""


def configure(parser) -> None:
    parser.add_argument("--database", metavar="URL", help="database URL (overrides the configuration)")
    parser.add_argument("--grant-roles", action="store_true",
                        help="then grant the gate and web roles their privileges (PostgreSQL, as the owner)")
    parser.add_argument("--print-grants", action="store_true", help="print the roles and grants SQL and exit")
    parser.add_argument("--gate-role", default=None, metavar="ROLE", help="the gates' group role (checkpoint_gate)")
    parser.add_argument("--web-role", default=None, metavar="ROLE", help="the web app's group role (checkpoint_web)")


def run(args) -> int:
    from checkpoint.roles import GATE_ROLE, WEB_ROLE, RoleError, grant_roles, roles_script

    gate_role, web_role = args.gate_role or GATE_ROLE, args.web_role or WEB_ROLE
    try:
        if args.print_grants:
            sys.stdout.write(roles_script(gate_role, web_role))
            return 0
    except RoleError as exc:
        print(f"checkpoint init-db: {exc}", file=sys.stderr)
        return 2

    from sqlalchemy.exc import SQLAlchemyError

    from checkpoint.cli import settings_from_args
    from checkpoint.db import open_database
    from checkpoint.health import short_error
    from checkpoint.redact import mask_url, scrub

    settings = settings_from_args(args)
    url = args.database or settings.database_url
    try:
        engine = open_database(url, migrate_schema=True)
    except SQLAlchemyError as exc:
        print(f"checkpoint init-db: cannot migrate {mask_url(url)}: {scrub(short_error(exc), url)}", file=sys.stderr)
        if "permission denied" in str(exc) or "must be owner" in str(exc):
            print("checkpoint init-db: run it with the login that owns the database (docs/multi-gate.md)",
                  file=sys.stderr)
        return 1
    try:
        print(f"database ready: {engine.url.render_as_string(hide_password=True)}")
        if args.grant_roles:
            try:
                statements = grant_roles(engine, gate_role, web_role)
            except (RoleError, SQLAlchemyError) as exc:
                message = str(exc) if isinstance(exc, RoleError) else short_error(exc)
                print(f"checkpoint init-db: cannot grant: {scrub(message, url)}", file=sys.stderr)
                return 1
            print(f"roles granted: {gate_role} (gates), {web_role} (web app), {len(statements)} statements")
    finally:
        engine.dispose()
    return 0
