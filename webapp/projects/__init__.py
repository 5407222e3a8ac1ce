"""Projects (lists) of tasks."""
