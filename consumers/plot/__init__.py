"""``trailpulse plot``: one API's per-minute series, its baseline and its insights, as a PNG."""
