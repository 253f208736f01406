"""Scenarios: narrated, replayable Kafka lessons written as small text files."""
