"""The findings of the OSV quality gate, one row per finding on a stored record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class ImportFinding(Base):
    """A quality finding (`quality.rules`) on an imported record, replaced whenever the record
    is imported again, deleted with it."""

    __tablename__ = "vulnerability_import_findings"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vuln_id: Mapped[str] = mapped_column(
        ForeignKey("vulnerabilities.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(8), index=True)
    field: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(12))  # the import's format: osv, csaf, cve5
    created_at: Mapped[datetime]
