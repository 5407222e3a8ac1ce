"""The app's database session class (extensions.py builds `db` with it; see webapp/replica.py)."""

from __future__ import annotations

from flask_sqlalchemy.session import Session

READ_FROM = "tasklane_read_from"  # Session.info: the replica's engine while inside `reading`


class RoutingSession(Session):
    """Inside `replica.reading`, its SELECTs go to the replica; writes, flushes and plain SQL
    stay on the primary."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        replica = self.info.get(READ_FROM)
        if replica is not None and bind is None and getattr(clause, "is_select", False):
            return replica
        return super().get_bind(mapper, clause=clause, bind=bind, **kwargs)
