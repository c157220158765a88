"""Exchange between administrations (nCEN): signed, redacted packages of records."""
