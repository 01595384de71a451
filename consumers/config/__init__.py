"""Settings: one typed description per setting (:mod:`.schema`), the engine's TOML tables
(:mod:`.engine_settings`), ``trailpulse run``'s tables (:mod:`.run_settings`) read from file,
environment and flags (:mod:`.run_config`), and the reference made from them (:mod:`.reference`)."""
