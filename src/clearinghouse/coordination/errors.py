"""The coordination domain's errors, each with its stable codes."""

from __future__ import annotations

from clearinghouse.core.errors import Conflict, InvalidInput


class CaseInputInvalid(InvalidInput):
    """A case request names what cannot be used. Codes: `vuln_unknown` (an id that is not a
    record the caller may see), `org_unknown`, `tlp_looser_than_case` (a message or artifact
    labelled below the case's TLP), `recipients_need_red` (recipients are for TLP:RED only),
    `recipient_not_participant`, `deadline_in_past`, `not_a_vendor_status` (a justification
    without not_affected), `artifact_empty`, `artifact_too_large`."""

    default_code = "case_input_invalid"
    title = "Invalid case request"


class CaseConflict(Conflict):
    """The case is not in a state for this. Codes: `participant_exists`, `case_closed`,
    `no_vendor` (notify without a vendor), `manual_publication` (the publication job publishes;
    a person cannot), `not_notified` (a deadline change before any vendor was told)."""

    default_code = "case_conflict"
    title = "Case conflict"
