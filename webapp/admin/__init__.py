"""Admin dashboard: user management, the audit log, the users CLI and rq-dashboard at /admin/rq."""
