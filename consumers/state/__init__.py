"""Where the daemon's state lives between checkpoints: a local directory or a compacted Kafka topic."""
