"""Who may do what on the broker: one RabbitMQ user per service, in one vhost, with permissions
derived from the contracts (shared/events.py PRODUCERS and CONSUMERS).

- configure/write/read (regular permissions): the events exchange and the service's own queues
  (named `<service>.…`, or `test.<run>.<service>.…` in tests); write also on the default exchange,
  through which a service moves its own messages to its retry and parking queues.
- topic permissions on the events exchange: write only the routing keys the service produces,
  bind (read) only the keys it consumes.

`python -m scripts.broker_users` applies this to a local broker with rabbitmqctl (make setup), and
keeps each user's password in var/broker/<user>.password (created once, readable by the owner only);
deploy/k8s/broker-users.yaml declares the same for the RabbitMQ messaging-topology operator.
"""
from __future__ import annotations

import re
import secrets
from pathlib import Path
from urllib.parse import quote

from shared.events import CONSUMERS, PRODUCERS

VHOST = "vux"
EXCHANGE = "vux.events"
USERS = ("catalogue", "search", "guidance", "allocation", "notifier")
TEST_USER = "tests"  # the test suite's own producer (test.ping), local brokers only
SECRETS_DIR = Path(__file__).resolve().parent.parent / "var" / "broker"


def produced_by(user: str) -> list[str]:
    return sorted(t for t, producer in PRODUCERS.items() if producer == user)


def _alternatives(words: list[str]) -> str:
    return "^(" + "|".join(re.escape(w) for w in words) + ")$" if words else "^$"


def permissions(user: str, *, tests: bool = False) -> dict[str, str]:
    """Regular and topic permission patterns of one user. With `tests`, also the per-run exchanges
    and queue prefixes of the tests and benchmarks (a local development broker only)."""
    queues = rf"{re.escape(user)}\..+"
    exchanges = re.escape(EXCHANGE)
    if tests:
        queues = rf"((test|bench|e2e)\.[0-9a-z]+\.)?{queues}"
        exchanges = rf"({exchanges}|vux\.(test|bench|e2e)\.[0-9a-z]+)"
    own = f"^({exchanges}|{queues})$"
    return {
        "configure": own,
        "write": f"^(amq\\.default|{exchanges}|{queues})$",
        "read": own,
        "topic_write": _alternatives(produced_by(user)),
        "topic_read": _alternatives(list(CONSUMERS.get(user, ()))),
    }


def password_file(user: str, secrets_dir: Path | None = None) -> Path:
    return (secrets_dir or SECRETS_DIR) / f"{user}.password"


def local_password(user: str, secrets_dir: Path | None = None, create: bool = False) -> str | None:
    """The user's password on the local broker (var/broker/), made once when `create`."""
    path = password_file(user, secrets_dir)
    if path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        # One made before hex (token_urlsafe) may begin with "-", which rabbitmqctl reads as an option.
        if not (create and kept.startswith("-")):
            return kept
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(24)  # never begins with "-"
    path.touch(mode=0o600)
    path.write_text(password + "\n", encoding="utf-8")
    return password


def local_url(user: str, host: str = "127.0.0.1", port: int = 5672, secrets_dir: Path | None = None) -> str | None:
    """amqp://user:password@host:port/vux for a local broker set up by make setup; None if it was not."""
    password = local_password(user, secrets_dir)
    if password is None:
        return None
    return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{VHOST}"
