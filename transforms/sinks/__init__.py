"""Hive-partitioned outputs and the clean-up of a re-run's stale files."""
