"""The CVE ids we reserved, and the first-refusal referrals to other CNAs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class CveIdReservation(Base):
    """One CVE id reserved from CVE Services by us as a CNA. Only ids with a row here are ours
    to publish or reject. `state` follows CVE Services: reserved → published | rejected."""

    __tablename__ = "cve_ids"
    __table_args__ = (Index("ix_cve_ids_state_reserved_at", "state", "reserved_at"),)

    cve_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    year: Mapped[int]
    state: Mapped[str] = mapped_column(String(12))  # reserved | published | rejected
    # The record the id is for (none while it waits to be assigned).
    vuln_id: Mapped[str | None] = mapped_column(ForeignKey("vulnerabilities.id"), index=True)
    owning_cna: Mapped[str] = mapped_column(String(64))  # our short name at reservation
    # First refusal: the CNA whose scope covers the product, when it is another one that
    # declined or did not answer (the referral id says which decision let us reserve).
    scope_cna: Mapped[str | None] = mapped_column(String(64))
    referral_id: Mapped[str | None] = mapped_column(String(40))
    reserved_by: Mapped[str | None] = mapped_column(String(40))  # user id
    reserved_at: Mapped[datetime]
    published_by: Mapped[str | None] = mapped_column(String(40))
    published_at: Mapped[datetime | None]
    rejected_by: Mapped[str | None] = mapped_column(String(40))
    rejected_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class CnaReferral(Base):
    """First refusal (CNA rules 4.2.1): a vulnerability whose product falls in another CNA's
    scope goes to that CNA first. The row records the owner and what it said: `pending` until
    a coordinator records `declined` or `no_answer` (we may then assign) or `owner_assigns`
    (we may not), with a reason."""

    __tablename__ = "cna_referrals"
    __table_args__ = (Index("ix_cna_referrals_vuln_owner", "vuln_id", "owner_cna", unique=True),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vuln_id: Mapped[str] = mapped_column(ForeignKey("vulnerabilities.id"))
    owner_cna: Mapped[str] = mapped_column(String(64))
    matched: Mapped[str] = mapped_column(String(600))  # the product and the rule that matched
    state: Mapped[str] = mapped_column(String(16))  # pending | declined | no_answer | owner_assigns
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
