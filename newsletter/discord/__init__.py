"""Discord: splitting issues into messages, webhook URLs, and the webhook HTTP client."""
