"""Local infrastructure: the Apache Kafka broker (from Maven Central jars) and topic definitions."""
