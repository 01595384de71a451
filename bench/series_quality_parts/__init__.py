"""Parts of ``bench/series_quality.py``: labelled series, the negative-binomial baseline, the figures."""
