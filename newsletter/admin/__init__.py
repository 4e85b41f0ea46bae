"""The editors' desk in the Django admin, one module per job:

- review.py: the review queue of submissions, votes and decisions;
- issues.py: sections, composing, previewing and publishing issues;
- imports.py: importing a past edition pasted from Discord;
- compose.py: the compose page's items table, as a formset;
- channels.py: Discord channels and the progress of deliveries;
- issue_email.py: the email edition on the issue pages (progress, previews, a test to me);
- subscribers.py: the email list (export, import) and the sends of each issue;
- topics.py: the list of topics members pick from.
"""

from . import channels, issues, review, subscribers, topics  # noqa: F401  (registers the ModelAdmins)
