"""The parts of ``bench/detection_latency.py``, the script to run: ``traffic`` (what it sends)."""
