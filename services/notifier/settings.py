import socket
from pathlib import Path
from typing import Literal

from pydantic import Field

from shared.config import ServiceSettings

TEMPLATES = Path(__file__).parent / "templates"


class NotifierSettings(ServiceSettings):
    service_name: str = "notifier"
    http_port: int = 8084
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_s: float = 30
    smtp_max_connections: int = Field(4, ge=1, le=64)
    smtp_rate_per_s: float = Field(0, ge=0, description="At most this many e-mails per second; 0: no limit")
    mail_from: str = "noreply@vux.example"
    sender_name: str = "Vuxenutbildningen i Västerbotten"
    sender_contact: str = "vux@vasterbotten.example · 090-16 00 00 · Storgatan 1, 901 82 Umeå"
    message_id_domain: str = "vux.example"
    templates_dir: Path = TEMPLATES
    send_retry_delays_s: list[float] = Field(default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 1800.0])
    instance_name: str = Field(default_factory=socket.gethostname,
                               description="Identifies this replica's claims on deliveries")
    stale_claim_s: float = Field(300, description="A claim older than this from another replica is taken over")
