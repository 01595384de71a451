"""Where Insight events and rejected records go: output topic, dead letters (alert sinks later)."""
