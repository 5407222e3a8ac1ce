"""Background jobs (RQ). Jobs are plain functions that take ids and are safe to run twice."""

PLANNING_QUEUE = "reminders"  # the sweep and overdue planning: short, and they hand out all mail
URGENT_MAIL_QUEUE = "mail-urgent"  # reminders the user set, password resets
BULK_MAIL_QUEUE = "mail-bulk"  # daily, overdue and weekly mails
# Workers take queues in this order: planning first (or a flood of bulk mail would hold back the
# sweep that finds the next urgent reminder), then urgent mail, then bulk.
QUEUES = (PLANNING_QUEUE, URGENT_MAIL_QUEUE, BULK_MAIL_QUEUE, "default")
MAIL_QUEUES = (URGENT_MAIL_QUEUE, BULK_MAIL_QUEUE)
