"""The SQLite history: schema migrations and the queries over it."""

from .history import CommitPlan, Current, History, NewVersion

__all__ = ["CommitPlan", "Current", "History", "NewVersion"]
