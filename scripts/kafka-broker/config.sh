# Sourced by scripts/kafka.sh: the test broker's configuration files, written into its directory.
# write_config DIR PORT CONTROLLER_PORT: DIR/server.properties (a single-node KRaft broker on 127.0.0.1,
# KAFKA_OVERRIDES appended) and DIR/log4j2.properties (the broker's log in DIR/server.log).

write_config() {
  local dir=$1 port=$2 cport=$3
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh: a single-node KRaft test broker on 127.0.0.1.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
# One node: every internal topic with one replica, and few partitions so that the first group or
# transaction does not wait for 50 partitions to be created.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A consumer group's first join otherwise waits 3 s for more members.
group.initial.rebalance.delay.ms=0
# Small enough for a test machine: 16 MiB segments, at most 512 MiB per partition, no time limit (test
# records may carry old event timestamps, which time-based retention would delete at once).
log.segment.bytes=16777216
log.index.size.max.bytes=1048576
log.retention.bytes=536870912
log.retention.ms=-1
log.retention.check.interval.ms=60000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  if [ -n "${KAFKA_OVERRIDES:-}" ]; then
    printf '# KAFKA_OVERRIDES\n%s\n' "$KAFKA_OVERRIDES" >>"$dir/server.properties"
  fi
  cat >"$dir/log4j2.properties" <<EOF
status = warn
# Kafka logs until its own shutdown hook ends; log4j's would stop the logging first.
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $dir/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
}
