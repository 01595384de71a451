"""Every Kafka access goes through here: the client protocol and its kafka-python and confluent adapters."""
