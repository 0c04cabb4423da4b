"""python -m services.notifier [serve]
python -m services.notifier token create --operator|--console [--name NAME]
python -m services.notifier token revoke TOKEN_ID | token list"""
import sys

from services.notifier import storage
from services.notifier.api import create_app
from services.notifier.service import NotifierService
from services.notifier.settings import NotifierSettings
from shared.cli import service_main

if __name__ == "__main__":
    sys.exit(service_main(doc=__doc__, settings_cls=NotifierSettings, service_cls=NotifierService,
                          create_app=create_app, token_table=storage.api_tokens, roles=["operator", "console"]))
