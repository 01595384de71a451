"""The daemon at run time: poll loop, checkpoint, decode workers, health endpoints, logs."""
