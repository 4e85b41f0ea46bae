"""Celery tasks of the newsletter, by domain. Each is thin: load rows by id, call one service.

Services never import this package: they queue tasks by name (`queue_after_commit("newsletter.deliver", ...)`).
"""

from . import delivery, discord, email, issues, submissions

__all__ = ["delivery", "discord", "email", "issues", "submissions"]
