"""Notifications: message building (pure, templates) and SMTP delivery through an outbox."""
