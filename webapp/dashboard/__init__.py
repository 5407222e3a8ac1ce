"""The home dashboard: counts and what is due."""
