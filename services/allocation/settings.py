from pydantic import Field

from shared.config import ServiceSettings
from shared.reference import municipalities


class AllocationSettings(ServiceSettings):
    service_name: str = "allocation"
    http_port: int = 8083
    public_url: str = Field("http://127.0.0.1:8083", description="Address learners reach this service at (links in e-mails)")
    statistics_refresh_s: float = Field(30, ge=0, description="The demand and report figures are counted at most "
                                        "this often (seconds); 0: on every request")
    apply_rate_per_minute: int = Field(10, description="Applications one client address may send per minute")
    applications_per_address_per_day: int = Field(3, description="Applications (and so receipts) one e-mail "
                                                  "address may cause in 24 hours, whoever sends them")
    confirm_within_hours: float = Field(24, description="How long the link that confirms an application works; "
                                        "an application not confirmed by then is forgotten")
    link_secret: str = Field("", description="Key for offer answer links; empty: generated once and kept in the database")
    offer_answer_days: float = Field(7, description="How long an applicant has to answer an offer")
    offer_reminder_hours: float = Field(48, description="Remind this long before an offer lapses")
    expiry_check_s: float = Field(30, description="How often lapsed offers and due reminders are looked for")
    auto_approve_municipalities: list[str] = Field(
        default_factory=lambda: sorted(municipalities()),
        description="Home municipalities that approve studies in another municipality without a manual decision")
    priority_short_education: list[str] = ["none", "primary", "upper_secondary_incomplete"]
    priority_weak_position: list[str] = ["unemployed", "labour_market_programme", "part_time"]
