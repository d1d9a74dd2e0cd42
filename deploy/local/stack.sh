#!/usr/bin/env bash
# stack.sh - the local riskgate stack: one Apache Kafka broker (KRaft,
# combined broker+controller) and one redis-server, both on 127.0.0.1.
# Integration tests, the demo and the benchmarks run against it.
#
#   deploy/local/stack.sh up | down | status | topics
#   deploy/local/stack.sh kafka-stop | kafka-start | redis-stop | redis-start
#
# DESIGN
#   Everything a stack owns lives under one directory, $STACK_DIR (default
#   <repo>/.stack): pid files, logs, Kafka's data, the chosen ports and an
#   `env` file for other scripts to source. Several stacks run side by side
#   by giving each its own STACK_DIR; the ports are free ones unless given.
#
#   The broker is plain jars from Maven Central (deploy/local/kafka-pom.xml),
#   copied once by mvn into <repo>/.cache/kafka-<version>/libs and started
#   with `java -cp 'libs/*' kafka.Kafka`. No tarball, no install step. The
#   cache is filled under a lock and moved into place whole, so a stack
#   interrupted mid-download or two stacks starting together never see half
#   a libs folder.
#
#   `down` stops only what this stack started: a pid is trusted only while
#   /proc/<pid>/cmdline still names this stack's config (Kafka) or port
#   (redis), so a recycled pid is never signalled. It sends TERM, waits a
#   bounded time, then KILL. It is safe after a failed or partial `up` and
#   when nothing runs. A failed `up` cleans up after itself.
#
#   Environment (all optional):
#     STACK_DIR            where this stack lives (default <repo>/.stack)
#     KAFKA_VERSION        Apache Kafka release (default below; docs/stack.md)
#     KAFKA_PORT, CONTROLLER_PORT, REDIS_PORT   fixed ports (default: free)
#     KAFKA_HEAP           broker -Xmx (default 512m)
#     KAFKA_SEGMENT_BYTES  log.segment.bytes (default 8 MiB, test-sized)
#     STACK_READY_TIMEOUT  seconds to wait for each service (default 90)
#     STACK_STOP_TIMEOUT   seconds between TERM and KILL (default 20)
#     RISKGATE_TOPIC_IN / _OUT / _DLQ / _FEEDBACK          topic names
#     RISKGATE_TXN_PARTITIONS, RISKGATE_VERDICT_PARTITIONS,
#     RISKGATE_FEEDBACK_PARTITIONS                         partition counts
#     STACK_TOPIC_TOOL     c (default: deploy/local/mktopics.c, compiled once
#                          into .cache/bin) or jvm (Kafka's TopicCommand)
#     STACK_WARM           1 (default): have the broker create its internal
#                          topics during `up` (c topic tool only); 0: skip
#     MAVEN_REPO_LOCAL     a maven.repo.local for the one-off download
#                          (default: Maven's own, ~/.m2/repository)
#     STACK_TLS            1: the broker also has the listeners of a secured
#                          production cluster, with a certificate from the
#                          stack's own CA: SASL_SSL (user `riskgate`, random
#                          password, mechanisms PLAIN and SCRAM-SHA-512) and
#                          SSL with client certificates (mutual TLS). The env
#                          file then names their ports, the CA, the client
#                          certificate and key, and the password file
#                          (docs/stack.md). 0 (default): PLAINTEXT only
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
STACK_DIR=${STACK_DIR:-$REPO/.stack}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
SEGMENT_BYTES=${KAFKA_SEGMENT_BYTES:-8388608}
READY_TIMEOUT=${STACK_READY_TIMEOUT:-90}
TLS=${STACK_TLS:-0}
SASL_USER=riskgate
STOP_TIMEOUT=${STACK_STOP_TIMEOUT:-20}

TOPIC_IN=${RISKGATE_TOPIC_IN:-transactions}
TOPIC_OUT=${RISKGATE_TOPIC_OUT:-verdicts}
TOPIC_DLQ=${RISKGATE_TOPIC_DLQ:-transactions.dlq}
TOPIC_FEEDBACK=${RISKGATE_TOPIC_FEEDBACK:-risk-feedback}
TXN_PARTITIONS=${RISKGATE_TXN_PARTITIONS:-4}
VERDICT_PARTITIONS=${RISKGATE_VERDICT_PARTITIONS:-4}
FEEDBACK_PARTITIONS=${RISKGATE_FEEDBACK_PARTITIONS:-4}

CACHE_DIR=$REPO/.cache/kafka-$KAFKA_VERSION
LIBS=$CACHE_DIR/libs
PY=/usr/bin/python3
HOST=127.0.0.1

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*" >&2; }

usage() {
    cat >&2 <<'EOF'
usage: stack.sh COMMAND [--kafka-port N] [--controller-port N] [--redis-port N]
  up            fetch Kafka if needed, start Kafka + redis, create topics,
                print and write $STACK_DIR/env
  down          stop everything this stack started, remove its data
  status        what runs where (exit 0 when everything is up, 3 otherwise)
  topics        list topics and partition counts
  kafka-stop    stop the broker, keep its data and port
  kafka-start   start the broker again on the same port
  redis-stop    stop redis, keep its port
  redis-start   start redis again on the same port (empty: no persistence)
EOF
    exit 2
}

# ---------------------------------------------------------------- helpers

# Absolute STACK_DIR: pid checks compare it with /proc/<pid>/cmdline.
abs_stack_dir() {
    mkdir -p "$STACK_DIR"
    STACK_DIR=$(cd "$STACK_DIR" && pwd)
}

# now_ms: wall clock in ms (for the timing line of `up`).
now_ms() { date +%s%3N; }

# free_ports N: N distinct free TCP ports on 127.0.0.1. The sockets are held
# open together so the N answers differ; another process may still take one
# before we bind, which `up` reports as a failed start.
free_ports() {
    "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# port_in_use PORT: true when something accepts connections on it.
port_in_use() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# pid_of NAME: the pid recorded in $STACK_DIR/NAME.pid, or nothing.
pid_of() {
    local f=$STACK_DIR/$1.pid
    [ -s "$f" ] || return 0
    local p
    p=$(tr -dc '0-9' < "$f")
    [ -n "$p" ] && echo "$p"
    return 0
}

# owned NAME PID: PID is alive and is still the process this stack started
# (its command line names our config file / our port), not a recycled pid.
owned() {
    local name=$1 pid=$2 cmd
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    case $name in
        kafka) [[ $cmd == *"$STACK_DIR/kafka/server.properties"* ]] ;;
        redis) [ -n "$REDIS_PORT" ] && [[ $cmd == *redis-server* && $cmd == *":$REDIS_PORT"* ]] ;;
        *) return 1 ;;
    esac
}

# load_ports: the ports chosen by `up`, so restarts reuse them.
load_ports() {
    if [ -s "$STACK_DIR/ports" ]; then
        # shellcheck disable=SC1091
        . "$STACK_DIR/ports"
    fi
    KAFKA_PORT=${KAFKA_PORT:-}
    CONTROLLER_PORT=${CONTROLLER_PORT:-}
    REDIS_PORT=${REDIS_PORT:-}
    SASL_PORT=${SASL_PORT:-}
    MTLS_PORT=${MTLS_PORT:-}
}

# stop_pid NAME: TERM the owned process, wait up to STOP_TIMEOUT s, then
# KILL. Removes the pid file. Quiet and successful when nothing runs.
stop_pid() {
    local name=$1 pid i
    pid=$(pid_of "$name")
    if [ -n "$pid" ] && owned "$name" "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
            owned "$name" "$pid" || break
            sleep 0.1
        done
        if owned "$name" "$pid"; then
            say "$name (pid $pid) ignored TERM for ${STOP_TIMEOUT}s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                owned "$name" "$pid" || break
                sleep 0.1
            done
        fi
        # The broker is our child only when `up` ran in this shell; reap it
        # if so, harmless otherwise.
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$STACK_DIR/$name.pid"
}

# write_env: the file other scripts source (set -a; . env; set +a).
write_env() {
    local kpid rpid tmp=$STACK_DIR/env.tmp
    kpid=$(pid_of kafka)
    rpid=$(pid_of redis)
    cat > "$tmp" <<EOF
RISKGATE_KAFKA_BOOTSTRAP=$HOST:$KAFKA_PORT
RISKGATE_REDIS=$HOST:$REDIS_PORT
RISKGATE_STACK_DIR=$STACK_DIR
RISKGATE_KAFKA_VERSION=$KAFKA_VERSION
RISKGATE_TOPIC_IN=$TOPIC_IN
RISKGATE_TOPIC_OUT=$TOPIC_OUT
RISKGATE_TOPIC_DLQ=$TOPIC_DLQ
RISKGATE_TOPIC_FEEDBACK=$TOPIC_FEEDBACK
KAFKA_PORT=$KAFKA_PORT
CONTROLLER_PORT=$CONTROLLER_PORT
REDIS_PORT=$REDIS_PORT
KAFKA_PID=$kpid
REDIS_PID=$rpid
EOF
    if [ -n "$SASL_PORT" ]; then
        cat >> "$tmp" <<EOF
RISKGATE_STACK_SASL_BOOTSTRAP=$HOST:$SASL_PORT
RISKGATE_STACK_MTLS_BOOTSTRAP=$HOST:$MTLS_PORT
RISKGATE_STACK_SASL_USER=$SASL_USER
RISKGATE_STACK_SASL_PASSWORD_FILE=$STACK_DIR/tls/sasl-password
RISKGATE_STACK_CA=$STACK_DIR/tls/ca.pem
RISKGATE_STACK_CLIENT_CERT=$STACK_DIR/tls/client.pem
RISKGATE_STACK_CLIENT_KEY=$STACK_DIR/tls/client.key
SASL_PORT=$SASL_PORT
MTLS_PORT=$MTLS_PORT
EOF
    fi
    mv "$tmp" "$STACK_DIR/env"
}

# ------------------------------------------------------------ Kafka cache

# fetch_kafka: make $LIBS hold the broker jars; runs mvn only when absent.
fetch_kafka() {
    local marker=$LIBS/kafka_2.13-$KAFKA_VERSION.jar
    [ -f "$marker" ] && return 0
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    mkdir -p "$CACHE_DIR"
    # One download at a time per version; the loser of the race finds the
    # libs in place once it gets the lock.
    exec 9> "$CACHE_DIR/.lock"
    flock 9
    if [ ! -f "$marker" ]; then
        local tmp=$CACHE_DIR/libs.tmp.$$ t0
        rm -rf "$tmp"
        t0=$(now_ms)
        say "fetching Apache Kafka $KAFKA_VERSION from Maven Central (once)"
        local mvn_args=(-B -q -Dstyle.color=never -f "$HERE/kafka-pom.xml" "-Dkafka.version=$KAFKA_VERSION"
                        dependency:copy-dependencies -DincludeScope=runtime
                        "-DoutputDirectory=$tmp")
        [ -n "${MAVEN_REPO_LOCAL:-}" ] && mvn_args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
        # Maven 3.8 prints colour resets even in batch mode; strip them.
        if ! mvn "${mvn_args[@]}" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2 || [ "${PIPESTATUS[0]}" -ne 0 ]; then
            rm -rf "$tmp"
            die "mvn could not fetch Kafka $KAFKA_VERSION (network? version?)"
        fi
        [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "mvn copied no broker jar"; }
        rm -rf "$LIBS"
        mv "$tmp" "$LIBS"
        say "fetched Kafka $KAFKA_VERSION in $(( $(now_ms) - t0 )) ms"
    fi
    flock -u 9
    exec 9>&-
}

# kafka_tool CLASS ARGS...: run a Kafka command-line tool class. C1-only JIT
# and a small heap: these run for a second, startup is what counts.
kafka_tool() {
    local cls=$1
    shift
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$HERE/tools-log4j2.properties" \
        -cp "$LIBS/*" "$cls" "$@"
}

# ----------------------------------------------------------------- Kafka

write_server_properties() {
    mkdir -p "$STACK_DIR/kafka"
    local listeners="PLAINTEXT://$HOST:$KAFKA_PORT" protocols="PLAINTEXT:PLAINTEXT"
    if [ -n "$SASL_PORT" ]; then
        listeners+=",SASL_SSL://$HOST:$SASL_PORT,SSL://$HOST:$MTLS_PORT"
        protocols+=",SASL_SSL:SASL_SSL,SSL:SSL"
    fi
    cat > "$STACK_DIR/kafka/server.properties" <<EOF
# Generated by deploy/local/stack.sh for $STACK_DIR. Single node, loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols,CONTROLLER:PLAINTEXT
log.dirs=$STACK_DIR/kafka/data

# Topics are created explicitly by stack.sh, never by a typo.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Test-sized storage: small segments, short retention, modest buffers.
log.segment.bytes=$SEGMENT_BYTES
log.retention.hours=24
log.retention.check.interval.ms=60000
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
num.network.threads=2
num.io.threads=4
background.threads=4
# Events may be up to 1 MiB; leave room for key, headers and batch overhead.
message.max.bytes=2097152
replica.fetch.max.bytes=2097152
EOF
    if [ -n "$SASL_PORT" ]; then
        cat >> "$STACK_DIR/kafka/server.properties" <<EOF

# STACK_TLS=1: both listeners present the stack CA's certificate for
# 127.0.0.1/localhost. SASL_SSL takes PLAIN (user in the JAAS line below)
# and SCRAM-SHA-512 (credential created after start-up); SSL requires a
# client certificate signed by the stack CA.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$(cat "$STACK_DIR/tls/sasl-password")";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$STACK_DIR/tls/broker-keystore.pem
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$STACK_DIR/tls/broker-keystore.pem
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$STACK_DIR/tls/ca.pem
listener.name.ssl.ssl.client.auth=required
EOF
        chmod 600 "$STACK_DIR/kafka/server.properties"
    fi
}

# make_tls: in $STACK_DIR/tls, a CA, a broker certificate for 127.0.0.1 and
# localhost and a client certificate (CN=riskgate), both signed by it for two
# days, and a random password. Clients trust ca.pem; the broker reads its
# key and chain from broker-keystore.pem.
make_tls() {
    local d=$STACK_DIR/tls
    command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
    rm -rf "$d"
    mkdir -p "$d"
    chmod 700 "$d"
    (
        cd "$d" || exit 1
        # sign NAME CN [OPENSSL-X509-ARGS...]: NAME.key and NAME.pem, signed by the CA.
        sign() {
            local name=$1 cn=$2
            shift 2
            openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
                -subj "/CN=$cn" 2>/dev/null
            openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
                -days 2 -out "$name.pem" "$@" 2>/dev/null
        }
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
            -subj "/CN=riskgate local stack CA" 2>/dev/null
        printf 'subjectAltName=IP:%s,DNS:localhost\n' "$HOST" > broker.ext
        sign broker localhost -extfile broker.ext
        cat broker.key broker.pem ca.pem > broker-keystore.pem
        sign client "$SASL_USER"
        head -c 18 /dev/urandom | base64 | tr '+/' '-_' > sasl-password
        chmod 600 ./*
        # (errexit does not work inside "( ... ) || die": check the results)
        [ -s broker.pem ] && [ -s client.pem ] && [ -s sasl-password ]
    ) || die "could not make the stack's TLS material (openssl)"
}

# add_scram_user: the SCRAM-SHA-512 credential of $SASL_USER (same password),
# through the PLAINTEXT listener (the broker stores it in its metadata log).
# librdkafka before 2.6.1, Debian 12's 2.0.2 included, cannot log in with
# SCRAM to Kafka 4 brokers (librdkafka #4895); PLAIN works (docs/stack.md).
add_scram_user() {
    local out=$STACK_DIR/kafka/scram.log
    if ! kafka_tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "$HOST:$KAFKA_PORT" \
            --alter --entity-type users --entity-name "$SASL_USER" \
            --add-config "SCRAM-SHA-512=[iterations=4096,password=$(cat "$STACK_DIR/tls/sasl-password")]" \
            > "$out" 2>&1; then
        cat "$out" >&2
        die "could not create the SCRAM user $SASL_USER"
    fi
}

# kraft_id: a KRaft cluster/directory id, 16 random bytes in base64url
# without padding; never starting with '-', which a command line would take
# for an option (Kafka's own Uuid.randomUuid avoids it too).
kraft_id() {
    local id=-
    while [[ $id == -* ]]; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    echo "$id"
}

# format_kafka: give the stack a freshly formatted KRaft log dir.
# StorageTool is a JVM start (1 s idle, several under load), and what it
# writes for this fixed single-node setup is the same every time except for
# the ids in meta.properties (and the checkpoint's timestamp/CRC). So it runs
# once per Kafka version into a template in the cache; each stack copies the
# template and gets new random cluster.id and directory.id. Bump
# FORMAT_TEMPLATE when a setting that `format` reads changes (node.id,
# process.roles, static voters, features).
FORMAT_TEMPLATE=kraft-node1-static-v1
format_kafka() {
    local tmpl=$CACHE_DIR/$FORMAT_TEMPLATE data=$STACK_DIR/kafka/data
    rm -rf "$data"
    if [ ! -f "$tmpl/meta.properties" ]; then
        local work=$CACHE_DIR/$FORMAT_TEMPLATE.tmp.$$
        rm -rf "$work"
        mkdir -p "$work"
        # The same settings `format` reads from server.properties, with a
        # log dir of its own.
        grep -Ev '^(log\.dirs|#)' "$STACK_DIR/kafka/server.properties" > "$work.properties"
        echo "log.dirs=$work" >> "$work.properties"
        if kafka_tool kafka.tools.StorageTool format -t "$(kraft_id)" -c "$work.properties" \
                > "$STACK_DIR/kafka/format.log" 2>&1 && [ -f "$work/meta.properties" ]; then
            # First one to finish wins; a concurrent loser drops its copy.
            mv -T "$work" "$tmpl" 2>/dev/null || rm -rf "$work"
        else
            rm -rf "$work"
            cat "$STACK_DIR/kafka/format.log" >&2
            rm -f "$work.properties"
            die "formatting KRaft storage failed"
        fi
        rm -f "$work.properties"
    fi
    cp -a "$tmpl" "$data"
    chmod u+w "$data/meta.properties"
    sed -i -e "s/^cluster\.id=.*/cluster.id=$(kraft_id)/" \
        -e "s/^directory\.id=.*/directory.id=$(kraft_id)/" "$data/meta.properties"
    if ! grep -q "^cluster\.id=" "$data/meta.properties" \
            || ! grep -q "^directory\.id=" "$data/meta.properties"; then
        die "unexpected meta.properties in $tmpl (delete it to re-format)"
    fi
}

start_kafka() {
    local pid
    pid=$(pid_of kafka)
    if [ -n "$pid" ] && owned kafka "$pid"; then
        say "kafka already runs (pid $pid)"
        return 0
    fi
    port_in_use "$KAFKA_PORT" && die "port $KAFKA_PORT (kafka) is already in use"
    port_in_use "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT (controller) is already in use"
    # No setsid: the broker stays in the caller's process group, so killing
    # a test run's group takes the broker with it instead of leaking it.
    # The GC log (wall-clock stamps) lets the benchmark tell broker pauses
    # from riskgate's own latency (docs/benchmarks.md).
    java "-Xms256m" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        "-Xlog:gc:file=$STACK_DIR/kafka-gc.log:time:filecount=2,filesize=20m" \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$HERE/log4j2.properties" \
        -cp "$LIBS/*" kafka.Kafka "$STACK_DIR/kafka/server.properties" \
        >> "$STACK_DIR/kafka.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$STACK_DIR/kafka.pid"
    wait_kafka "$pid"
}

# wait_kafka PID: until the broker answers a metadata request, the process
# dies, or READY_TIMEOUT passes.
wait_kafka() {
    local pid=$1 deadline=$((SECONDS + READY_TIMEOUT))
    while ! kcat -b "$HOST:$KAFKA_PORT" -L -m 2 >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$STACK_DIR/kafka.log" >&2 || true
            die "kafka exited during startup (log: $STACK_DIR/kafka.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$STACK_DIR/kafka.log" >&2 || true
            die "kafka did not answer on $HOST:$KAFKA_PORT within ${READY_TIMEOUT}s"
        fi
        sleep 0.2
    done
}

# topic_partitions: "name partitions" per topic that has a leader for every
# partition, from one metadata request (no JVM).
topic_partitions() {
    kcat -b "$HOST:$KAFKA_PORT" -L -J -m 5 2>/dev/null | "$PY" -c '
import json, sys
md = json.load(sys.stdin)
for t in sorted(md.get("topics", []), key=lambda t: t["topic"]):
    if t["topic"].startswith("__"):
        continue
    ps = t.get("partitions", [])
    led = all(p.get("leader", -1) >= 0 for p in ps)
    print(t["topic"], len(ps), "ready" if led else "no-leader")
'
}

# build_mktopics: compile deploy/local/mktopics.c (librdkafka Admin API)
# into .cache/bin once; prints the binary's path, or fails when there is no
# compiler or librdkafka-dev (create_topics then uses TopicCommand).
build_mktopics() {
    local src=$HERE/mktopics.c bin=$REPO/.cache/bin/rg-mktopics
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
        command -v cc >/dev/null && pkg-config --exists rdkafka 2>/dev/null || return 1
        mkdir -p "$REPO/.cache/bin"
        # shellcheck disable=SC2046
        cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -pthread -o "$bin.tmp.$$" "$src" \
            $(pkg-config --cflags --libs rdkafka) >&2 || { rm -f "$bin.tmp.$$"; return 1; }
        mv -f "$bin.tmp.$$" "$bin"
    fi
    echo "$bin"
}

create_topics() {
    local mktopics
    local specs=("$TOPIC_IN:$TXN_PARTITIONS" "$TOPIC_OUT:$VERDICT_PARTITIONS"
                 "$TOPIC_DLQ:1" "$TOPIC_FEEDBACK:$FEEDBACK_PARTITIONS")
    if [ "${STACK_TOPIC_TOOL:-c}" = c ] && mktopics=$(build_mktopics); then
        # One CreateTopics request from C: milliseconds, no JVM. --warm also
        # has the broker create __transaction_state and __consumer_offsets
        # now, so the first test's producer/group does not wait for them.
        local warm=(--warm)
        [ "${STACK_WARM:-1}" = 1 ] || warm=()
        "$mktopics" "${warm[@]}" "$HOST:$KAFKA_PORT" $((READY_TIMEOUT * 1000)) "${specs[@]}" \
            > "$STACK_DIR/kafka/topics.log" 2>&1 \
            || { cat "$STACK_DIR/kafka/topics.log" >&2; die "creating topics failed"; }
    else
        [ "${STACK_TOPIC_TOOL:-c}" = jvm ] \
            || say "no cc/librdkafka-dev for mktopics.c; creating topics with TopicCommand"
        create_topics_jvm "${specs[@]}"
    fi
    wait_topics "${specs[@]}"
}

# create_topics_jvm NAME:PARTS...: the fallback, Kafka's own TopicCommand.
create_topics_jvm() {
    local spec name parts pids=() rc=0 i specs=("$@")
    # One JVM per topic, all at once: TopicCommand takes one topic per call
    # and a JVM start dominates its run time.
    for spec in "${specs[@]}"; do
        name=${spec%:*}
        parts=${spec##*:}
        kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$KAFKA_PORT" \
            --create --if-not-exists --topic "$name" --partitions "$parts" \
            --replication-factor 1 > "$STACK_DIR/kafka/topic-$name.log" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            cat "$STACK_DIR/kafka/topic-${specs[$i]%:*}.log" >&2
            rc=1
        fi
    done
    [ $rc -eq 0 ] || die "creating topics failed"
}

# wait_topics NAME:PARTS...: creation returns once the controller committed
# it; wait until the broker serves every partition of every topic with the
# expected count, so the first client never sees UNKNOWN_TOPIC_OR_PART.
wait_topics() {
    local specs=("$@") spec deadline=$((SECONDS + READY_TIMEOUT)) have
    while :; do
        have=$(topic_partitions || true)
        local ok=1
        for spec in "${specs[@]}"; do
            grep -qx "${spec%:*} ${spec##*:} ready" <<< "$have" || ok=0
        done
        [ $ok -eq 1 ] && break
        ((SECONDS < deadline)) || die "topics not ready within ${READY_TIMEOUT}s: $have"
        sleep 0.2
    done
}

# ----------------------------------------------------------------- redis

start_redis() {
    local pid i
    pid=$(pid_of redis)
    if [ -n "$pid" ] && owned redis "$pid"; then
        say "redis already runs (pid $pid)"
        return 0
    fi
    command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
    port_in_use "$REDIS_PORT" && die "port $REDIS_PORT (redis) is already in use"
    mkdir -p "$STACK_DIR/redis"
    rm -f "$STACK_DIR/redis.pid"
    # Not --daemonize: like the broker, redis stays in the caller's process
    # group (killing a test run's group takes it along) and its pid is $!.
    # shellcheck disable=SC2094  # --logfile and 2>> append to the same log
    redis-server --bind "$HOST" --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize no --logfile "$STACK_DIR/redis.log" --dir "$STACK_DIR/redis" \
        > /dev/null 2>> "$STACK_DIR/redis.log" < /dev/null &
    pid=$!
    echo "$pid" > "$STACK_DIR/redis.pid"
    local deadline=$((SECONDS + READY_TIMEOUT))
    until [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$STACK_DIR/redis.log" >&2 || true
            die "redis exited during startup (log: $STACK_DIR/redis.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$STACK_DIR/redis.log" >&2 || true
            die "redis did not answer on $HOST:$REDIS_PORT within ${READY_TIMEOUT}s"
        fi
        sleep 0.05
    done
}

# -------------------------------------------------------------- commands

cmd_up() {
    local t0 ports
    t0=$(now_ms)
    abs_stack_dir
    local kpid rpid
    load_ports
    kpid=$(pid_of kafka)
    rpid=$(pid_of redis)
    if [ -n "$kpid" ] && owned kafka "$kpid" && [ -n "$rpid" ] && owned redis "$rpid"; then
        say "already up in $STACK_DIR"
        write_env
        cat "$STACK_DIR/env"
        return 0
    fi
    # Whatever a previous run left half-started goes first.
    cmd_down_quiet
    # Ports: flags/env win, then free ones.
    KAFKA_PORT=${ARG_KAFKA_PORT:-${ENV_KAFKA_PORT:-}}
    CONTROLLER_PORT=${ARG_CONTROLLER_PORT:-${ENV_CONTROLLER_PORT:-}}
    REDIS_PORT=${ARG_REDIS_PORT:-${ENV_REDIS_PORT:-}}
    read -r -a ports <<< "$(free_ports 5)"
    KAFKA_PORT=${KAFKA_PORT:-${ports[0]}}
    CONTROLLER_PORT=${CONTROLLER_PORT:-${ports[1]}}
    REDIS_PORT=${REDIS_PORT:-${ports[2]}}
    if [ "$KAFKA_PORT" = "$CONTROLLER_PORT" ] || [ "$KAFKA_PORT" = "$REDIS_PORT" ] \
            || [ "$CONTROLLER_PORT" = "$REDIS_PORT" ]; then
        die "ports must differ: kafka $KAFKA_PORT, controller $CONTROLLER_PORT, redis $REDIS_PORT"
    fi
    local p
    for p in "$KAFKA_PORT" "$CONTROLLER_PORT" "$REDIS_PORT"; do
        port_in_use "$p" && die "port $p is already in use"
    done
    SASL_PORT= MTLS_PORT=
    if [ "$TLS" = 1 ]; then
        SASL_PORT=${ports[3]}
        MTLS_PORT=${ports[4]}
        for p in "$SASL_PORT" "$MTLS_PORT"; do
            port_in_use "$p" && die "port $p is already in use"
        done
    fi
    printf 'KAFKA_PORT=%s\nCONTROLLER_PORT=%s\nREDIS_PORT=%s\nSASL_PORT=%s\nMTLS_PORT=%s\n' \
        "$KAFKA_PORT" "$CONTROLLER_PORT" "$REDIS_PORT" "$SASL_PORT" "$MTLS_PORT" > "$STACK_DIR/ports"

    # From here on a failure tears down what was started.
    trap 'rc=$?; if [ $rc -ne 0 ]; then say "up failed; cleaning up"; cmd_down_quiet; fi' EXIT

    command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
    command -v kcat >/dev/null || die "kcat not found (apt-get install kcat)"
    local t1 t2 t3 t4
    fetch_kafka
    t1=$(now_ms)
    : > "$STACK_DIR/kafka.log"
    start_redis &
    local redis_job=$!
    [ -z "$SASL_PORT" ] || make_tls
    write_server_properties
    format_kafka
    t2=$(now_ms)
    start_kafka
    t3=$(now_ms)
    wait "$redis_job" || die "redis failed to start"
    create_topics
    [ -z "$SASL_PORT" ] || add_scram_user
    write_env
    t4=$(now_ms)
    trap - EXIT
    say "up in $((t4 - t0)) ms (fetch $((t1 - t0)), format $((t2 - t1)), broker $((t3 - t2)), topics $((t4 - t3)));" \
        "kafka $KAFKA_VERSION pid $(pid_of kafka), redis pid $(pid_of redis); env: $STACK_DIR/env"
    cat "$STACK_DIR/env"
}

# cmd_down_quiet: stop both, remove data; used by down, failed up, re-up.
cmd_down_quiet() {
    load_ports
    stop_pid kafka
    stop_pid redis
    rm -rf "$STACK_DIR/kafka/data" "$STACK_DIR/redis" "$STACK_DIR/env" "$STACK_DIR/env.tmp" \
        "$STACK_DIR/tls"
}

cmd_down() {
    if [ ! -d "$STACK_DIR" ]; then
        say "nothing to stop in $STACK_DIR"
        return 0
    fi
    abs_stack_dir
    cmd_down_quiet
    rm -f "$STACK_DIR/ports"
    say "down ($STACK_DIR)"
}

cmd_status() {
    [ -d "$STACK_DIR" ] || { echo "no stack in $STACK_DIR"; return 3; }
    abs_stack_dir
    load_ports
    local name pid port state rc=0
    for name in kafka redis; do
        pid=$(pid_of "$name")
        if [ "$name" = kafka ]; then port=$KAFKA_PORT; else port=$REDIS_PORT; fi
        if [ -z "$pid" ]; then
            state="not running"
            rc=3
        elif owned "$name" "$pid"; then
            state=alive
            if [ "$name" = kafka ]; then
                kcat -b "$HOST:$port" -L -m 2 >/dev/null 2>&1 || { state="alive, not answering"; rc=3; }
            else
                [ "$(redis-cli -h "$HOST" -p "$port" ping 2>/dev/null)" = PONG ] \
                    || { state="alive, not answering"; rc=3; }
            fi
        else
            state="dead (stale pid file)"
            rc=3
        fi
        printf '%-6s pid=%-8s %s:%-6s %s\n' "$name" "${pid:--}" "$HOST" "${port:--}" "$state"
    done
    echo "dir    $STACK_DIR (kafka $KAFKA_VERSION)"
    return $rc
}

cmd_topics() {
    abs_stack_dir
    load_ports
    [ -n "$KAFKA_PORT" ] || die "no stack in $STACK_DIR"
    topic_partitions || die "kafka on $HOST:$KAFKA_PORT does not answer"
}

need_ports() {
    abs_stack_dir
    load_ports
    if [ -z "$KAFKA_PORT" ] || [ -z "$REDIS_PORT" ]; then
        die "no stack in $STACK_DIR (run up first)"
    fi
}

# ------------------------------------------------------------------ main

# Env-given ports, kept apart so that a stack's saved ports win on restarts.
ENV_KAFKA_PORT=${KAFKA_PORT:-}
ENV_CONTROLLER_PORT=${CONTROLLER_PORT:-}
ENV_REDIS_PORT=${REDIS_PORT:-}
unset KAFKA_PORT CONTROLLER_PORT REDIS_PORT
ARG_KAFKA_PORT='' ARG_CONTROLLER_PORT='' ARG_REDIS_PORT=''

[ $# -ge 1 ] || usage
CMD=$1
shift
while [ $# -gt 0 ]; do
    case $1 in
        --kafka-port) ARG_KAFKA_PORT=${2:?}; shift 2 ;;
        --controller-port) ARG_CONTROLLER_PORT=${2:?}; shift 2 ;;
        --redis-port) ARG_REDIS_PORT=${2:?}; shift 2 ;;
        --stack-dir) STACK_DIR=${2:?}; shift 2 ;;
        *) usage ;;
    esac
done
for p in "$ARG_KAFKA_PORT" "$ARG_CONTROLLER_PORT" "$ARG_REDIS_PORT" \
         "$ENV_KAFKA_PORT" "$ENV_CONTROLLER_PORT" "$ENV_REDIS_PORT"; do
    [ -z "$p" ] || [[ $p =~ ^[0-9]+$ && $p -gt 0 && $p -lt 65536 ]] || die "bad port: $p"
done

case $CMD in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    topics) cmd_topics ;;
    kafka-stop) need_ports; stop_pid kafka; write_env; say "kafka stopped (data kept)" ;;
    kafka-start)
        need_ports
        fetch_kafka
        start_kafka
        write_env
        say "kafka up on $HOST:$KAFKA_PORT (pid $(pid_of kafka))"
        ;;
    redis-stop) need_ports; stop_pid redis; write_env; say "redis stopped" ;;
    redis-start)
        need_ports
        start_redis
        write_env
        say "redis up on $HOST:$REDIS_PORT (pid $(pid_of redis))"
        ;;
    -h|--help|help) usage ;;
    *) usage ;;
esac
