"""Settings: the engine's TOML tables and ``trailpulse run``'s file, environment and flags, checked."""
