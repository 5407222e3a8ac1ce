"""Reminders: per-task reminders, scheduled mails, deliveries and in-app notifications."""
