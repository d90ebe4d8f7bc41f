"""Thresholds and allowlists for the hunts, read from a TOML file (`graphtrail hunt --config`).

Every key is optional; the defaults suit an organisation of a few accounts. Example:

    baseline_fraction = 0.3          # the first 30% of the case's time span is the baseline
    own_accounts = ["111122223333"]  # default: every account whose trail is in the case
    trusted_cidrs = ["203.0.113.0/24"]
    automation = ["arn:aws:iam::111122223333:role/ci/deploy"]   # principals (or ARN suffixes) to trust
    [thresholds]
    recon_calls = 10                 # distinct List/Describe/Get calls ...
    recon_seconds = 300              # ... within this many seconds make a recon burst
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from graphtrail.errors import InputError


@dataclass(frozen=True)
class Thresholds:
    recon_calls: int = 10  # distinct read-only calls in one burst
    recon_services: int = 3  # across at least this many services
    recon_seconds: int = 300
    denied_calls: int = 5  # denied calls in one burst
    denied_seconds: int = 600
    new_key_use_seconds: int = 3600  # a key used within this time of its creation
    bulk_objects: int = 50  # objects read by one principal from one bucket in one hour
    bulk_bytes: int = 1_000_000_000
    spike_factor: float = 10.0  # calls in an hour against the principal's busiest baseline hour
    spike_min_calls: int = 50
    work_hours: tuple[int, int] = (6, 20)  # UTC hours counted as working time for off-hours access
    chain_hops: int = 3  # role chains at least this long are reported even within the organisation


@dataclass(frozen=True)
class HuntConfig:
    baseline_fraction: float = 0.3
    own_accounts: tuple[str, ...] = ()
    trusted_cidrs: tuple[str, ...] = ()
    automation: tuple[str, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in self.trusted_cidrs]

    @classmethod
    def load(cls, path: str | Path) -> HuntConfig:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read hunt config {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"hunt config {path} is not valid TOML: {exc}") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<config>") -> HuntConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{source}: unknown setting {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        thresholds = data.get("thresholds", {})
        known_thresholds = {f.name: f.type for f in fields(Thresholds)}
        unknown = sorted(set(thresholds) - set(known_thresholds))
        if unknown:
            raise InputError(f"{source}: unknown threshold {', '.join(unknown)}")
        if "work_hours" in thresholds:
            thresholds = {**thresholds, "work_hours": tuple(thresholds["work_hours"])}
        fraction = float(data.get("baseline_fraction", cls.baseline_fraction))
        if not 0.0 <= fraction < 1.0:
            raise InputError(f"{source}: baseline_fraction must be in [0, 1)")
        config = cls(
            baseline_fraction=fraction,
            own_accounts=tuple(str(a) for a in data.get("own_accounts", ())),
            trusted_cidrs=tuple(str(c) for c in data.get("trusted_cidrs", ())),
            automation=tuple(str(a) for a in data.get("automation", ())),
            thresholds=Thresholds(**thresholds),
        )
        try:
            config.trusted_networks  # noqa: B018 - validate now, with a clear message
        except ValueError as exc:
            raise InputError(f"{source}: {exc}") from None
        return config
