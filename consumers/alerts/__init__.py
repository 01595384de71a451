"""Alert sinks: what an Insight becomes for Alertmanager, Slack, PagerDuty and signed webhooks."""
