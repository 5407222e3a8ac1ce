"""The trash: deleted tasks kept for a while, to restore or delete for good."""
