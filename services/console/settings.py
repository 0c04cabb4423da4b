from pydantic import Field

from shared.config import ServiceSettings


class ConsoleSettings(ServiceSettings):
    service_name: str = "console"
    http_port: int = 8086
    # The console calls the services for the signed-in person with one `console` token per service
    # (`python -m services.SERVICE token create --console`); each service checks that person's rights.
    catalogue_token: str = Field("", description="the catalogue's console token")
    allocation_token: str = Field("", description="the allocation service's console token")
    notifier_token: str = Field("", description="the notifier's console token")
    guidance_token: str = Field("", description="the guidance service's console token (its parked messages)")
    backend_timeout_s: float = Field(30, description="How long a page waits for a service")
    sign_in_hours: float = Field(8, description="How long a sign-in lasts")
    cookie_secure: bool = Field(False, description="Send the sign-in cookie over HTTPS only (set true behind TLS)")
    upload_max_bytes: int = Field(5_000_000, description="The largest feed file a municipality may upload")
    upload_keep_minutes: float = Field(30, description="How long an upload waits for its confirmation")
