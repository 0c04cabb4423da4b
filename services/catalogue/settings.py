from pydantic import Field

from shared.config import ServiceSettings


class CatalogueSettings(ServiceSettings):
    service_name: str = "catalogue"
    http_port: int = 8081
    feed_max_bytes: int = Field(64 * 1024 * 1024, description="Largest feed body accepted (413 above)")
    feed_rate_per_minute: int = Field(30, ge=1, description="Feed pushes one token may make per minute (429 above)")
