"""Notification errors, each with a stable code."""

from __future__ import annotations

from clearinghouse.core.errors import Conflict, InvalidInput


class Overshare(InvalidInput):
    """An emitter asked to send everyone a variant above TLP:GREEN or under embargo: a bug in
    the emitter, refused so its transaction rolls back rather than leak."""

    default_code = "notification_overshare"


class NotDead(Conflict):
    default_code = "delivery_not_dead"


class EmailDisabled(Conflict):
    default_code = "email_disabled"
