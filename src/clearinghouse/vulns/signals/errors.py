"""The triage signal errors, in the one hierarchy (`core.errors`).

Signals are computed from what is measured; bad arguments from a caller are an `InvalidInput`
with a stable code, and a decision table that is not complete is a `ConfigurationError` (the
deployment ships a broken table: nothing is decided from it).
"""

from __future__ import annotations

from clearinghouse.core.errors import ConfigurationError, InvalidInput


class SignalInputInvalid(InvalidInput):
    """A caller passed a value the signals cannot use. Codes: `ssvc_value_invalid` (a decision
    point value the table does not have), `audit_share_invalid` (a share outside 0..1),
    `source_tree_invalid` (not a directory), `prior_outcome_invalid` (an earlier report's outcome
    that is not validated, invalid or pending)."""

    default_code = "signal_input_invalid"
    title = "Invalid triage signal input"


class DecisionTableInvalid(ConfigurationError):
    """The SSVC decision table is malformed or incomplete: a combination of its decision points'
    values without exactly one outcome, an unknown value, a missing decision point."""

    default_code = "ssvc_table_invalid"
    title = "Invalid SSVC decision table"
