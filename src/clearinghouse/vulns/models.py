from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class Vulnerability(Base):
    """The canonical record, shaped like OSV 1.7, plus TLP, embargo and workflow status.

    `id` is ours (`CH-YYYY-NNNNN`); `source_id` is the id the record arrived with (`PYSEC-...`),
    which the OSV API serves for imported records, as osv.dev does.
    """

    __tablename__ = "vulnerabilities"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(120), unique=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    record: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), index=True)
    tlp: Mapped[str] = mapped_column(String(20))
    embargo_until: Mapped[datetime | None]
    published: Mapped[datetime | None]
    modified: Mapped[datetime] = mapped_column(index=True)
    withdrawn: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VulnerabilityAlias(Base):
    __tablename__ = "vulnerability_aliases"

    alias: Mapped[str] = mapped_column(String(120), primary_key=True)
    vuln_id: Mapped[str] = mapped_column(
        ForeignKey("vulnerabilities.id", ondelete="CASCADE"), primary_key=True
    )


class AffectedPackage(Base):
    """Lookup index: which records name which (ecosystem, package). Ranges are evaluated from
    the record itself (vulns.ranges)."""

    __tablename__ = "vulnerability_packages"
    __table_args__ = (Index("ix_vulnerability_packages_lookup", "ecosystem", "name"),)

    vuln_id: Mapped[str] = mapped_column(
        ForeignKey("vulnerabilities.id", ondelete="CASCADE"), primary_key=True
    )
    ecosystem: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    purl: Mapped[str | None] = mapped_column(String(500))


class IdCounter(Base):
    """Per-year sequence for CH-YYYY-NNNNN ids."""

    __tablename__ = "vulnerability_id_counters"

    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
