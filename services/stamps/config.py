"""Settings of the stamps service (environment prefix `STAMPS_`)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings

# The resolver's host in the demo and the tests (STAMPS_RESOLVER_HOST in production).
DEFAULT_RESOLVER_HOST = "tem.ocop.example.vn"


class AnomalySettings(BaseModel):
    """Thresholds of the counterfeit rules over scan histories (TRACEABILITY §4.6; tune per category).

    Read as ``STAMPS_ANOMALIES__<FIELD>`` (``STAMPS_ANOMALIES__DEVICES_30D=8``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # How many of a stamp's latest scans the rules look at.
    history: int = Field(default=50, ge=2)
    # R1: a cluster alert when this many unknown serials are scanned in one province within the window.
    unknown_cluster: int = Field(default=5, ge=2)
    unknown_cluster_window_h: float = Field(default=24, gt=0)
    # R5: speed a consumer can travel between two scans, by road under ``road_window_h``, else by air.
    road_kmh: float = Field(default=120, gt=0)
    air_kmh: float = Field(default=900, gt=0)
    road_window_h: float = Field(default=6, gt=0)
    # R5 with IP-only (province-level) locations: each counts as this uncertain, and the two must lie this
    # far apart within ``ip_window_h``.
    province_accuracy_km: float = Field(default=50, ge=0)
    ip_min_distance_km: float = Field(default=300, ge=0)
    ip_window_h: float = Field(default=24, gt=0)
    # R5: a GPS fix without an accuracy counts as this uncertain.
    gps_default_accuracy_m: float = Field(default=100, ge=0)
    # R5: this many impossible journeys in a stamp's history suspend it automatically.
    suspend_after_travels: int = Field(default=2, ge=1)
    # R6: distinct devices per serial.
    devices_30d: int = Field(default=5, ge=1)
    devices_24h: int = Field(default=3, ge=1)
    devices_high: int = Field(default=10, ge=1)
    # R7: scans per serial.
    scans_30d: int = Field(default=20, ge=1)
    scans_lifetime: int = Field(default=50, ge=1)
    # R8: a lot with this many serials scanned out of region scores medium.
    out_of_region_lot: int = Field(default=10, ge=1)
    # R9: a scan this far from the retail sale within the window.
    after_sale_km: float = Field(default=100, ge=0)
    after_sale_window_h: float = Field(default=2, gt=0)
    # R10: one IP or device in one hour.
    enumeration_unknown_per_h: int = Field(default=20, ge=1)
    enumeration_distinct_per_h: int = Field(default=100, ge=1)
    # R11: share of a batch first-scanned in one place within the window.
    burst_share: float = Field(default=0.30, gt=0, le=1)
    burst_window_h: float = Field(default=1, gt=0)
    # R11 (ours, not §4.6): fewer first scans than this never make a burst (a shop opening a small batch).
    burst_min_scans: int = Field(default=5, ge=1)
    # The detector: scans younger than this may not have committed yet (ids and times are taken before
    # commit); every round reads again this far back and skips what it has examined.
    settle_s: float = Field(default=5, ge=0)
    overlap_s: float = Field(default=120, ge=0)
    # On start the detector looks this far back (examining a scan twice writes nothing twice).
    lookback_h: float = Field(default=6, ge=0)
    # Scans examined per round at most (the rest wait for the next round).
    round_limit: int = Field(default=1_000, ge=1)
    # Behind on a burst of scans, the detector works at most this share of the time (each full round is
    # followed by a pause in proportion): verifications come first, the detector catches up after.
    busy_share: float = Field(default=0.5, gt=0, le=1)
    # While the CPU is under pressure (the share of time some task waited for a CPU, Linux PSI) above this,
    # the detector waits: a burst of verifications keeps the CPU and PostgreSQL to itself. It never lets
    # scans wait unexamined longer than ``max_yield_s`` (plus ``settle_s`` and a period) for it.
    yield_above_pressure: float = Field(default=0.1, gt=0, le=1)
    max_yield_s: float = Field(default=60, ge=0)


class EpcisSettings(BaseModel):
    """Limits of EPCIS capture (read as ``STAMPS_EPCIS__<FIELD>``, e.g. ``STAMPS_EPCIS__MAX_DOCUMENT_BYTES``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A captured document (or single event) larger than this is refused with 413 (GS1-EPCIS-Capture-File-Size-Limit).
    max_document_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # At most this many events in one captured document (GS1-EPCIS-Capture-Limit).
    max_events: int = Field(default=50_000, ge=1)
    # An event may be this far in the future (a capturing device's clock running ahead), no further.
    future_tolerance_s: float = Field(default=300, ge=0)


class StampsSettings(BaseServiceSettings):
    """The stamps service's settings."""

    model_config = SettingsConfigDict(env_prefix="STAMPS_", extra="ignore", frozen=True)

    # The most stamps one batch may ask for.
    max_batch: int = Field(default=1_000_000, ge=1)
    # How often the generation job looks for approved batches (an approval also wakes it; 0: not here).
    batch_job_every_s: float = 30.0
    # A whole batch of more stamps than this is changed by a background job (202 Accepted and a change
    # resource to follow, GET /v1/stamp-changes/{id}); smaller batches and serial lists in the request (200).
    lifecycle_sync_max: int = Field(default=10_000, ge=0)
    # Stamps per transaction of such a job (each chunk commits its stamps, audit and EPCIS events).
    lifecycle_chunk: int = Field(default=10_000, ge=1, le=100_000)
    # How often the lifecycle job looks for queued changes (a queued change also wakes it; 0: not here).
    lifecycle_job_every_s: float = 5.0
    # How often the anomaly detector examines new scans (0: not started by this process).
    anomaly_job_every_s: float = 10.0
    # Where it runs: "process", a child process of lower CPU priority (its rounds cost about what the
    # verifications they examine cost, and on this event loop they would hold verifications up);
    # "inline", on this process's event loop (tests that drive it, a deployment running it alone).
    anomaly_detector: Literal["process", "inline"] = "process"
    # How much the child lowers its CPU priority (nice), so that requests come first.
    anomaly_detector_nice: int = Field(default=10, ge=0, le=19)
    anomalies: AnomalySettings = AnomalySettings()
    # How often the EPCIS capture runner looks for captured documents (a capture also wakes it; 0: not here).
    epcis_job_every_s: float = 5.0
    epcis: EpcisSettings = EpcisSettings()
    # The host of the GS1 resolver printed in every stamp's Digital Link (and shown under the QR).
    resolver_host: str = DEFAULT_RESOLVER_HOST
    # Device ids are hashed with this key before they are logged (32+ characters in production).
    scan_hash_key: SecretStr = SecretStr("development-only-scan-hash-key-0000000000")
    # A browser's scan is answered with a 307 to its page, /s/{token}: the token (the scan's id and time) is
    # signed with this key (32+ characters in production) and opens the page for ``scan_token_hours``.
    scan_token_key: SecretStr = SecretStr("development-only-scan-token-key-000000000")
    scan_token_hours: float = Field(default=24, gt=0, le=24 * 7)
    # Concurrent verifications are logged together: at most this many scans per statement.
    scan_batch_max: int = Field(default=256, ge=1, le=5_000)
    # Batches of scans logged at once, each on a connection of its own.
    scan_batches_in_flight: int = Field(default=2, ge=1, le=16)
    # IP hashes' daily salts are kept this many days, then dropped (the hashes become unlinkable).
    scan_salt_days: int = Field(default=30, ge=1, le=365)
    # Monthly partitions of the scan log created ahead of time.
    scan_partitions_ahead: int = Field(default=12, ge=1, le=60)

    def scan_token_signing(self) -> tuple[bytes, timedelta]:
        """The key scan tokens are signed with, and how long a token opens its scan's page."""
        return self.scan_token_key.get_secret_value().encode(), timedelta(hours=self.scan_token_hours)

    @model_validator(mode="after")
    def _check_scan_keys(self) -> StampsSettings:
        """Outside development and test, device ids are hashed and scan tokens signed with real keys."""
        for name in ("scan_hash_key", "scan_token_key"):
            key: SecretStr = getattr(self, name)
            value = key.get_secret_value()
            if self.environment == "production" and (len(value) < 32 or value.startswith("development-only")):
                raise ValueError(f"{name} must be set (32 characters or more) in production")
        return self


@lru_cache
def get_settings() -> StampsSettings:
    """The settings, read once from the environment."""
    return StampsSettings()
