from alembic import context

from services.console.storage import metadata
from shared.db import run_migrations_in_env

run_migrations_in_env(context, metadata)
