"""Background jobs (RQ). Jobs are plain functions that take ids and are safe to run twice."""

QUEUES = ("email", "reminders", "default")
