"""The ``trailpulse`` sub-commands: one module each, argument parsing and wiring only."""
