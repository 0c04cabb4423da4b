"""python -m services.search [serve]      the search service (builds no model: `make setup` does)"""
import sys

from services.search.api import create_app
from services.search.service import SearchService
from services.search.settings import SearchSettings
from shared.cli import service_main

if __name__ == "__main__":
    sys.exit(service_main(doc=__doc__, settings_cls=SearchSettings, service_cls=SearchService,
                          create_app=create_app, token_table=None, roles=[]))
