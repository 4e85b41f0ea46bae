"""Every state change, one module per state machine: submissions, votes, issues, delivery."""
