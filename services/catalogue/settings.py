from pydantic import Field

from shared.config import ServiceSettings


class CatalogueSettings(ServiceSettings):
    service_name: str = "catalogue"
    http_port: int = 8081
    feed_max_bytes: int = Field(64 * 1024 * 1024, description="Largest feed body accepted (413 above)")
