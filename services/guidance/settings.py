from pydantic import Field

from shared.config import ServiceSettings


class GuidanceSettings(ServiceSettings):
    service_name: str = "guidance"
    http_port: int = 8085
    search_timeout_s: float = Field(5.0, description="How long a chat turn waits for the search service")
    max_message_chars: int = Field(2000, description="A learner's message is cut here (with a notice)")
    chat_retention_days: float = Field(30, description="Conversations untouched this long are deleted")
    counsellor_login_hours: float = Field(8, description="How long a counsellor's sign-in lasts")
    cookie_secure: bool = Field(False, description="Send the counsellor cookie over HTTPS only (set true behind TLS)")
    chat_rate_per_minute: int = Field(30, description="Chat turns one client address may take per minute")
