"""Notifications (issue 14, part 8): a transactional outbox (`outbox.emit`, called by any domain
inside its own transaction), Standard Webhooks deliveries, SMTP e-mail, subscriptions with
filters and per-organisation digests. docs/notifications.md."""
