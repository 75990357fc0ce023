"""EPSS scores (FIRST's Exploit Prediction Scoring System), with history: one row per CVE per
score date. Reference data for every exposure's `epss`; imported by `inventory.epss`."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class EpssScore(Base):
    __tablename__ = "inventory_epss_scores"
    __table_args__ = (Index("ix_inventory_epss_scores_score_date", "score_date"),)

    cve_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    score_date: Mapped[date] = mapped_column(Date, primary_key=True)
    epss: Mapped[float]  # probability of exploitation activity in the next 30 days, 0..1
    percentile: Mapped[float]  # 0..1
    model_version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(200))  # the file it came from
    imported_at: Mapped[datetime]
