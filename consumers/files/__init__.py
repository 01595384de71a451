"""CloudTrail log files as input: finding them (an S3 sync, a directory, stdin) and replaying them."""
