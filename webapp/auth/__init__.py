"""Accounts: sign-up, sessions, profile, password change and reset, the development outbox."""
