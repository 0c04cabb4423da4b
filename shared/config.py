"""Settings common to every service, read from environment variables (pydantic-settings)."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"


def sqlite_url(name: str) -> str:
    return f"sqlite+aiosqlite:///{VAR_DIR / f'{name}.db'}"


class ServiceSettings(BaseSettings):
    """Base class; each service subclasses it with its own name, port and extras."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    service_name: str = "service"
    amqp_url: str = Field("", description="amqp(s)://user:password@host:port/vhost, the user named as the service; "
                          "empty: the service's own user on the local broker that make setup prepared")
    database_url: str = ""  # empty: a SQLite file under var/ named after the service
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    events_exchange: str = Field("vux.events", description="Topic exchange every integration event goes to")
    queue_prefix: str = Field("", description="Prefix for this service's queue names (isolates test runs)")
    catalogue_url: str = "http://127.0.0.1:8081"
    search_url: str = "http://127.0.0.1:8082"
    allocation_url: str = "http://127.0.0.1:8083"
    notifier_url: str = "http://127.0.0.1:8084"
    guidance_url: str = "http://127.0.0.1:8085"
    trusted_proxies: list[str] = Field(default_factory=list, description="Addresses or networks (CIDR) of the reverse "
                                       "proxies whose X-Forwarded-For names the client; any other caller's is ignored")
    log_level: str = "INFO"
    log_json: bool = True
    outbox_poll_s: float = 1.0
    consumer_prefetch: int = 32
    retry_delays_s: list[float] = Field(default_factory=lambda: [1.0, 5.0, 30.0])

    def db_url(self) -> str:
        return self.database_url or sqlite_url(self.service_name)

    def broker_url(self) -> str:
        from shared.broker import local_url

        url = self.amqp_url or local_url(self.service_name)
        if not url:
            raise RuntimeError(f"no AMQP_URL for {self.service_name}, and no local broker user: run `make setup` "
                               "(python -m scripts.broker_users) or set AMQP_URL")
        return url
