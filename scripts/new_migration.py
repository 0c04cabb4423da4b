import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
"""Generate a migration from a service's tables: python scripts/new_migration.py SERVICE "message" REV_ID"""
import asyncio, sys
from pathlib import Path
from alembic import command
from alembic.config import Config
from shared.db import make_engine
async def main(svc, msg):
    eng = make_engine("sqlite+aiosqlite:///var/autogen.db")
    cfg = Config(); cfg.set_main_option("script_location", f"services/{svc}/migrations")
    cfg.attributes["version_table"] = f"alembic_version_{svc}"
    def run(conn):
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=msg, autogenerate=True, rev_id=sys.argv[3])
    async with eng.begin() as conn:
        await conn.run_sync(run)
Path("var/autogen.db").unlink(missing_ok=True)
asyncio.run(main(sys.argv[1], sys.argv[2]))
