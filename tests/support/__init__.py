"""Real helpers for the test suite (servers, builders), imported explicitly by tests."""
