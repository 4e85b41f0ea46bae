"""Pages of the newsletter: members' submissions, the public archive, search and feeds."""
