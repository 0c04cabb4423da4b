"""python -m services.catalogue [serve]                      run the service
python -m services.catalogue token create --municipality 2480 [--name NAME]
python -m services.catalogue token create --region | --console [--name NAME]
python -m services.catalogue token revoke TOKEN_ID | token list
python -m services.catalogue demo-feeds OUT_DIR            write the demo feeds"""
import sys

from services.catalogue import storage
from services.catalogue.api import create_app
from services.catalogue.auth import check_scope
from services.catalogue.service import CatalogueService
from services.catalogue.settings import CatalogueSettings
from shared.cli import service_main


def add_demo(sub) -> None:  # noqa: ANN001
    demo = sub.add_parser("demo-feeds", help="write the deterministic demo feeds")
    demo.add_argument("out_dir")
    demo.add_argument("--occurrences", type=int, default=None, help="scale to about this many occurrences")


def run_demo(args, _settings) -> int:  # noqa: ANN001
    from services.catalogue.demo import write_feeds

    for path in write_feeds(args.out_dir, target_occurrences=args.occurrences):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(service_main(doc=__doc__, settings_cls=CatalogueSettings, service_cls=CatalogueService,
                          create_app=create_app, token_table=storage.api_tokens, roles=["region", "console"],
                          municipality_role="municipality", check_scope=check_scope,
                          extra_commands=add_demo, run_extra=run_demo))
