"""python -m services.console [serve]      the staff console's pages
python -m services.console staff create USERNAME --name NAME --role regional|municipality|operator
                                        [--municipality CODE] [--password-stdin]   (else a password is generated)
python -m services.console staff disable USERNAME | staff list"""
import argparse
import asyncio
import secrets
import sys

from services.console import storage
from services.console.api import create_app
from services.console.service import MIGRATIONS, ROLES, ConsoleService, check_account, create_staff
from services.console.settings import ConsoleSettings
from shared.cli import serve
from shared.db import make_engine, migrate
from shared.logs import setup_logging


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.console", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve the console (the default)")
    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(dest="action", required=True)
    create = staff.add_parser("create", help="create an account, or set a new password and role on one")
    create.add_argument("username")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--municipality", metavar="CODE", help="a municipality coordinator's municipality")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    staff.add_parser("disable", help="disable an account and end its sign-ins").add_argument("username")
    staff.add_parser("list", help="the accounts")
    return p


async def staff_command(settings: ConsoleSettings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.db_url())
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_console")
        async with engine.begin() as conn:
            if args.action == "list":
                for r in await storage.staff_rows(conn):
                    state = "disabled" if r.disabled_at else "active"
                    print(f"{r.username}\t{r.role}\t{r.municipality or '-'}\t{r.name}\t{state}")
                return 0
            if args.action == "disable":
                if not await storage.disable_staff(conn, args.username):
                    print(f"no active account {args.username!r}", file=sys.stderr)
                    return 1
                print(f"disabled {args.username}")
                return 0
            problem = check_account(args.role, args.municipality)
            if problem:
                print(problem, file=sys.stderr)
                return 2
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else secrets.token_urlsafe(12)
            if len(password) < 10:
                print("the password must be at least 10 characters", file=sys.stderr)
                return 2
            await create_staff(conn, args.username, args.name, args.role, args.municipality, password)
        print(f"{args.role} {args.username}" + ("" if args.password_stdin else f" password: {password}"))
        return 0
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = ConsoleSettings()
    setup_logging(settings.log_level, settings.log_json)
    if args.command == "staff":
        return asyncio.run(staff_command(settings, args))
    asyncio.run(serve(settings, ConsoleService, create_app))
    return 0


if __name__ == "__main__":
    sys.exit(main())
