"""What a link is: canonical keys for duplicate detection, safe fetching, and autofill."""
