"""python -m services.allocation [serve]
python -m services.allocation token create --coordinator [--municipality CODE] [--name NAME]
python -m services.allocation token create --console | --operator [--name NAME]
python -m services.allocation token revoke TOKEN_ID | token list"""
import sys

from services.allocation import storage
from services.allocation.api import create_app
from services.allocation.service import AllocationService
from services.allocation.settings import AllocationSettings
from shared.cli import service_main
from shared.reference import municipalities


def check_scope(role: str, scope: str | None) -> str | None:
    if scope and role != "coordinator":
        return f"a {role} token is not tied to a municipality; leave out --municipality"
    return f"unknown municipality code {scope}" if scope and scope not in municipalities() else None


if __name__ == "__main__":
    sys.exit(service_main(doc=__doc__, settings_cls=AllocationSettings, service_cls=AllocationService,
                          create_app=create_app, token_table=storage.api_tokens,
                          roles=["coordinator", "console", "operator"], check_scope=check_scope))
