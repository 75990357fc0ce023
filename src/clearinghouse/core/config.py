"""One typed settings object, read from `CLEARINGHOUSE_*` environment variables.

This is the only module that reads the environment. Production refuses insecure defaults at
startup instead of warning about them: a missing master key, a generated development key file,
a weak key, or model endpoints on private addresses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clearinghouse.core.errors import ConfigurationError

# Keys that appear in our docs or are trivially weak; production refuses them outright.
_INSECURE_KEY_DIGESTS = {
    hashlib.sha256(bytes(32)).hexdigest(),
    hashlib.sha256(b"\xff" * 32).hexdigest(),
    hashlib.sha256(b"changethis" * 3 + b"ch").hexdigest(),
}


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


def decode_key(raw: str) -> bytes:
    """Decode a base64 (standard or URL-safe) 256-bit key, or raise ConfigurationError."""
    text = raw.strip()
    try:
        key = base64.urlsafe_b64decode(
            text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
        )
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(
            "master key is not valid base64", code="master_key_invalid"
        ) from exc
    if len(key) != 32:
        raise ConfigurationError(
            f"master key must decode to 32 bytes (AES-256), got {len(key)}",
            code="master_key_invalid",
        )
    return key


# inventory (issue 15): the due-date policies' keys and defaults (inventory/due.py).
DueOutcome = Literal["Act", "Attend", "Track*", "Track"]
DueSeverity = Literal["critical", "high", "medium", "low", "unknown"]


def default_due_ssvc_days() -> dict[DueOutcome, int]:
    return {"Act": 3, "Attend": 14, "Track*": 60, "Track": 180}


def default_due_severity_days() -> dict[DueSeverity, int]:
    return {"critical": 15, "high": 30, "medium": 90, "low": 180, "unknown": 90}


class Settings(BaseSettings):
    """Every setting of the product. See docs/user-guide.md for the table."""

    model_config = SettingsConfigDict(env_prefix="CLEARINGHOUSE_", extra="ignore")

    env: Environment = Environment.development
    var_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<var_dir>/clearinghouse.db"
    )
    master_key: SecretStr | None = Field(default=None, description="base64 of 32 random bytes")
    retired_master_keys: str = Field(
        default="", description="comma-separated base64 keys still accepted for unwrapping"
    )
    shared_data: Path = Path("../shared/data")
    package_index_url: str = Field(
        default="https://pypi.org/simple",
        description="PEP 503 simple index that validation fetches released packages from",
    )
    triage_audit_share: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="the share of the reports marked likely invalid that go to a human spot check",
    )
    validation_build_cache: bool = Field(
        default=True,
        description="keep the build outputs of reporters' recipes in <var_dir>/cache for reuse; "
        "off: each validation builds in a temporary directory, removed afterwards",
    )
    recipe_max_bytes: int = Field(
        default=32 * 1024**2,
        ge=1024,
        le=64 * 1024**2,
        description="the largest recipe upload (the archive, or the multipart body) accepted",
    )
    # --- coordination (issue 14): cases, the disclosure deadline engine -------------------
    coordination_deadline_policy: Path | None = Field(
        default=None,
        description="a YAML file of the disclosure deadline policy (keys of "
        "coordination.deadlines.DeadlinePolicy); default: the embedded OpenSSF numbers",
    )
    coordination_artifact_max_bytes: int = Field(
        default=16 * 1024**2,
        ge=1024,
        le=32 * 1024**2,
        description="the largest artifact uploaded to a coordination case",
    )
    # --- inventory (issue 15): SBOM intake limits ---
    inventory_sbom_max_bytes: int = Field(
        default=64 * 1024**2,
        ge=1024,
        le=512 * 1024**2,
        description="the largest SBOM accepted for upload (CLEARINGHOUSE_INVENTORY_SBOM_MAX_BYTES)",
    )
    inventory_sbom_max_components: int = Field(
        default=100_000,
        ge=1,
        le=2_000_000,
        description="the most components one SBOM may list "
        "(CLEARINGHOUSE_INVENTORY_SBOM_MAX_COMPONENTS)",
    )
    log_level: str = "INFO"
    log_format: str = "json"
    allow_private_endpoints: bool | None = Field(
        default=None,
        description="let submissions point at loopback/private hosts; default off in production",
    )
    endpoint_timeout_seconds: float = 10.0
    review_window_days: int = 30
    job_modules: list[str] = Field(
        default_factory=list, description="extra modules that register job handlers"
    )
    job_lease_seconds: float = 60.0
    job_heartbeat_seconds: float = 10.0
    job_max_attempts: int = 5
    worker_poll_seconds: float = 1.0
    periodic_interval_seconds: int = 60
    audit_checkpoint_interval_seconds: int = Field(
        default=3600, ge=60, description="how often the worker signs an audit checkpoint"
    )
    audit_checkpoint_origin: str | None = Field(
        default=None,
        pattern=r"^[^\s+]{1,200}$",
        description="the checkpoints' origin and key name, fixed when the audit key is created; "
        "default clearinghouse/audit/<key fingerprint>",
    )
    # --- publication: CVE 5 and TAXII (issue 13, parts 5 and 6) ---
    cve_cna_org_id: str = Field(
        default="8a1c6b2e-4f3d-4c5b-9e7a-2d1f0b3c4e5a",
        pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$",
        description="our CNA organisation id (a version 4 UUID, from CVE Services): CVE ids whose "
        "assigner is this id (or cve_cna_short_name) export with our CNA container, others "
        "with our ADP container",
    )
    cve_cna_short_name: str = Field(
        default="clearinghouse",
        pattern=r"^[A-Za-z0-9_-]{2,32}$",
        description="our CNA short name in CVE records",
    )
    taxii_page_size: int = Field(
        default=100, ge=1, le=10_000, description="TAXII 2.1: objects per page at most"
    )
    # --- notifications: webhooks, e-mail and digests (issue 14, part 8) ---
    notification_max_attempts: int = Field(
        default=8,
        ge=1,
        le=50,
        description="attempts to deliver one webhook or e-mail (exponential backoff between "
        "them) before it is dead-lettered",
    )
    notification_digest_seconds: int = Field(
        default=86400, ge=60, description="the period of the per-organisation digests"
    )
    smtp_host: str = Field(
        default="", description="SMTP server for notification e-mail; empty: e-mail is disabled"
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port")
    smtp_from: str = Field(
        default="clearinghouse@localhost", description="the From address of notification e-mail"
    )
    # --- coordination: the clearinghouse as a CNA, CVE ids through CVE Services (issue 14,
    # part 6). Empty URL or credentials: the CNA is disabled (code `cna_not_configured`). Our
    # CNA identity in records is `cve_cna_org_id` / `cve_cna_short_name` above. ---
    cve_services_url: str = Field(
        default="",
        max_length=500,
        description="CVE Services API base URL (https://cveawg.mitre.org/api/, or the test "
        "instance https://cveawg-test.mitre.org/api/); empty: the CNA is disabled",
    )
    cve_services_user: str = Field(
        default="", max_length=200, description="the CVE Services user (CVE-API-USER)"
    )
    cve_services_api_key: SecretStr | None = Field(
        default=None, description="the CVE Services API key (CVE-API-KEY); never logged"
    )
    cna_scopes_file: Path | None = Field(
        default=None,
        description="YAML table of other CNAs' scopes for first refusal (CNA rules 4.2.1); "
        "default: the embedded table coordination/cna/data/cna_scopes.yaml",
    )
    # --- publication: the CSAF trusted provider (issue 13, part 3) ---
    csaf_publisher_name: str = Field(
        default="AI Cyber Clearinghouse",
        min_length=1,
        max_length=200,
        description="CSAF: the publisher's name in documents and provider-metadata.json",
    )
    csaf_publisher_namespace: str = Field(
        default="https://clearinghouse.example.org",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="CSAF: the publisher's namespace (a URL it controls)",
    )
    csaf_contact: str = Field(
        default="mailto:csaf@clearinghouse.example.org",
        pattern=r"^(mailto:|https://|tel:)\S{3,200}$",
        description="CSAF: the contact (the publisher's contact_details and security.txt Contact)",
    )
    csaf_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*[^/\s?#])?$",
        description="where /.well-known/csaf/ is served (no trailing slash); default the namespace",
    )
    csaf_security_txt_days: int = Field(
        default=180, ge=1, le=365, description="security.txt: Expires this many days ahead"
    )

    # --- the web interface (issue 16; docs/web.md): sign-in sessions and their cookie ---
    web_insecure_cookies: bool | None = Field(
        default=None,
        description="serve the session cookie without Secure and without the __Host- prefix "
        "(name ch_session), for plain http://127.0.0.1; default: on outside production only",
    )
    web_session_idle_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="a web session ends after this long unused"
    )
    web_session_absolute_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="a web session ends this long after sign-in"
    )
    web_login_max_failures: int = Field(
        default=5, ge=1, le=1000, description="failed sign-ins per e-mail and address per window"
    )
    web_login_window_seconds: int = Field(
        default=900, ge=1, le=86400, description="the window of web_login_max_failures"
    )

    # --- inventory (issue 15): exposure due dates (inventory/due.py; docs/inventory.md,
    # "Prioritisation"). Days from when an exposure opens; the earliest applicable date wins. ---
    inventory_due_use_kev: bool = Field(
        default=True,
        description="a KEV-listed exposure is due by the KEV entry's dueDate (CISA BOD 22-01)",
    )
    inventory_due_ssvc_days: dict[DueOutcome, Annotated[int, Field(ge=0, le=3650)]] = Field(
        default_factory=default_due_ssvc_days,
        description="days to remediate per SSVC outcome (JSON); an outcome left out has none",
    )
    inventory_due_severity_days: dict[DueSeverity, Annotated[int, Field(ge=0, le=3650)]] = Field(
        default_factory=default_due_severity_days,
        description="days to remediate per severity when no SSVC outcome is known (JSON)",
    )

    @property
    def csaf_base(self) -> str:
        return (self.csaf_base_url or self.csaf_publisher_namespace).rstrip("/")

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in {"json", "text"}:
            raise ValueError("log_format must be 'json' or 'text'")
        return value

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def web_cookie_secure(self) -> bool:
        """The session cookie is `__Host-ch_session`, Secure (HTTPS only), unless insecure dev."""
        if self.web_insecure_cookies is None:
            return self.is_production
        return not self.web_insecure_cookies

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'clearinghouse.db'}"

    @property
    def private_endpoints_allowed(self) -> bool:
        if self.allow_private_endpoints is None:
            return not self.is_production
        return self.allow_private_endpoints

    @property
    def dev_key_file(self) -> Path:
        return self.var_dir / "master.key"

    @cached_property
    def master_key_bytes(self) -> bytes:
        """The current key-encryption key. In development a key file is generated on first use."""
        if self.master_key is not None:
            return decode_key(self.master_key.get_secret_value())
        if self.is_production:
            raise ConfigurationError(
                "CLEARINGHOUSE_MASTER_KEY is required in production (base64 of 32 random bytes; "
                "generate one with `clearinghouse keys generate`)",
                code="master_key_missing",
            )
        return _load_or_create_key_file(self.dev_key_file)

    @cached_property
    def retired_master_key_bytes(self) -> list[bytes]:
        keys = [decode_key(k) for k in self.retired_master_keys.split(",") if k.strip()]
        retired_dir = self.var_dir / "retired-keys"
        if not self.is_production and retired_dir.is_dir():
            keys += [decode_key(p.read_text()) for p in sorted(retired_dir.glob("*.key"))]
        return keys

    def check_production(self) -> None:
        """Refuse to start production with any insecure default. Called by every entry point."""
        if not self.is_production:
            return
        key = self.master_key_bytes
        if hashlib.sha256(key).hexdigest() in _INSECURE_KEY_DIGESTS or len(set(key)) < 8:
            raise ConfigurationError(
                "CLEARINGHOUSE_MASTER_KEY is a known or weak key", code="master_key_insecure"
            )
        if self.allow_private_endpoints:
            raise ConfigurationError(
                "CLEARINGHOUSE_ALLOW_PRIVATE_ENDPOINTS must not be enabled in production",
                code="insecure_setting",
            )
        if self.web_insecure_cookies:
            raise ConfigurationError(
                "CLEARINGHOUSE_WEB_INSECURE_COOKIES must not be enabled in production",
                code="insecure_setting",
            )
        if self.database_url is None:
            raise ConfigurationError(
                "set CLEARINGHOUSE_DATABASE_URL explicitly in production (PostgreSQL recommended)",
                code="database_url_missing",
            )


def _load_or_create_key_file(path: Path) -> bytes:
    if path.exists():
        return decode_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    import secrets

    encoded = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    # Create exclusively with 0600 so two processes starting together cannot both write a key.
    try:
        with path.open("x", encoding="ascii") as fh:
            path.chmod(0o600)
            fh.write(encoded + "\n")
    except FileExistsError:
        pass
    return decode_key(path.read_text())


def get_settings() -> Settings:
    """Build settings from the environment and validate production constraints."""
    settings = Settings()
    settings.check_production()
    return settings
