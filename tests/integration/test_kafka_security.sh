#!/usr/bin/env bash
# test_kafka_security.sh - riskgate against a secured broker: the stack with
# STACK_TLS=1 (deploy/local/stack.sh), whose broker presents a certificate
# from the stack's own CA on a SASL_SSL listener and on a mutual-TLS one.
#   1. SASL_SSL with PLAIN, the password taken from the environment through
#      a ${NAME} reference: every event gets exactly one verdict, riskgate's
#      only broker connections are to the SASL_SSL port, /readyz is 200, and
#      the password appears nowhere in its log.
#   2. Mutual TLS (client certificate and key): a second batch, same group,
#      gets its verdicts over the SSL port only.
#   3. A wrong password, a CA that did not sign the broker's certificate, and
#      SCRAM with a librdkafka that Kafka 4 refuses: riskgate stays up, is
#      not ready, says why in its log (never the password), makes no
#      verdict, and stops cleanly on SIGTERM.
#   4. A ${NAME} reference to an unset variable stops start-up, naming the
#      variable and the line.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
BIN=${RISKGATE_BIN:-$IT_REPO/build/riskgate}
VERIFY=$IT_REPO/tests/integration/verify.py

export STACK_TLS=1
it_stack_up || { it_fail stack "the local stack did not come up"; it_summary; exit 1; }
for v in RISKGATE_STACK_SASL_BOOTSTRAP RISKGATE_STACK_MTLS_BOOTSTRAP RISKGATE_STACK_CA \
         RISKGATE_STACK_CLIENT_CERT RISKGATE_STACK_CLIENT_KEY RISKGATE_STACK_SASL_PASSWORD_FILE; do
    it_assert "the stack's env names $v" test -n "${!v:-}"
done
SASL_PORT=${RISKGATE_STACK_SASL_BOOTSTRAP##*:}
MTLS_PORT=${RISKGATE_STACK_MTLS_BOOTSTRAP##*:}
PASSWORD=$(cat "$RISKGATE_STACK_SASL_PASSWORD_FILE")
it_assert "the stack made a password" test "${#PASSWORD}" -ge 16

# config NAME BOOTSTRAP PROPERTIES-YAML: $IT_TMP/NAME.yaml, one consumer
# group for all, metrics on a free port.
config() {
    cat > "$IT_TMP/$1.yaml" <<YAML
kafka:
  bootstrap: $2
  group_id: it-security
  commit_interval_ms: 200
  properties:
$3
engine:
  workers: 2
  shutdown_timeout_ms: 15000
http:
  listen: 127.0.0.1:0
YAML
}

# start NAME: riskgate with $IT_TMP/NAME.yaml, its log $IT_TMP/NAME.log; the
# broker address of the config, not the stack's PLAINTEXT one from the env.
# Sets URL once the HTTP endpoint is up.
start() {
    URL=
    RISKGATE_KAFKA_BOOTSTRAP= it_rg_start "$IT_TMP/$1.yaml" "$IT_TMP/$1.log"
    if it_wait_until 30 grep -q 'metrics and health on' "$IT_TMP/$1.log"; then
        URL=$(sed -n 's/.*metrics and health on \(http:[^ "]*\).*/\1/p' "$IT_TMP/$1.log" | head -1)
    fi
}

# stop: SIGTERM, wait; 0 when riskgate exited 0 within 30 s.
stop() {
    local pid=$RG_PID i
    RG_PID=
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 300; i++)); do
        it_pid_alive "$pid" || break
        sleep 0.1
    done
    if it_pid_alive "$pid"; then
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 1
    fi
    wait "$pid"
}

# peer_ports PID: remote ports of PID's established TCP connections.
peer_ports() {
    ss -tnpH state established 2>/dev/null | awk -v p="pid=$1," 'index($0, p) {
        n = split($4, a, ":"); print a[n] }' | sort -u
}

# only_broker_port PORT: riskgate's connections are to PORT and to Redis.
only_broker_port() {
    local ports
    ports=$(peer_ports "$RG_PID" | grep -vx "${RISKGATE_REDIS##*:}")
    [ -n "$ports" ] && [ "$ports" = "$1" ]
}

# verdicts_for NAME: wait (60 s) until every event of NAME has a verdict;
# leaves them in $IT_TMP/NAME.verdicts. Read over PLAINTEXT (the test's
# side, not riskgate's).
verdicts_for() {
    it_wait_verdicts "$IT_TMP/$1.truth.jsonl" \
        "$(wc -l < "$IT_TMP/$1.truth.jsonl")" 60 "$IT_TMP/$1.verdicts"
}

n_verdicts() { it_read_verdicts && wc -l < "$IT_TMP/verdicts.txt"; }

# batch NAME SEED: 500 events (no malformed ones) produced over PLAINTEXT.
batch() {
    "$BIN" gen --out "$IT_TMP/$1.jsonl" --feedback-out /dev/null \
        --truth-out "$IT_TMP/$1.truth.jsonl" --count 500 --users 100 --malformed 0 \
        --seed "$2" > /dev/null 2>&1 || it_fail "gen $1" "riskgate gen failed"
    it_produce_file transactions "$IT_TMP/$1.jsonl" || it_fail "produce $1" "kcat failed"
}

ready_code() { curl -s -o /dev/null -w '%{http_code}' "${URL}readyz"; }
is_ready() { [ "$(ready_code)" = 200 ]; }

# ---- 1. SASL_SSL + PLAIN, password from the environment
config sasl "$RISKGATE_STACK_SASL_BOOTSTRAP" "    security.protocol: SASL_SSL
    sasl.mechanism: PLAIN
    sasl.username: $RISKGATE_STACK_SASL_USER
    sasl.password: \${RG_IT_KAFKA_PASSWORD}
    ssl.ca.location: $RISKGATE_STACK_CA"
it_assert "the config file does not hold the password" \
    bash -c "! grep -qF -- '$PASSWORD' '$IT_TMP/sasl.yaml'"
batch one 71
export RG_IT_KAFKA_PASSWORD=$PASSWORD
start sasl
it_assert "SASL_SSL: /readyz 200 (Kafka, Redis, model and rules)" \
    it_wait_until 60 is_ready
if verdicts_for one; then
    it_assert "SASL_SSL: exactly one verdict per event" \
        "$VERIFY" verdicts --truth "$IT_TMP/one.truth.jsonl" --verdicts "$IT_TMP/one.verdicts"
else
    it_fail "SASL_SSL: exactly one verdict per event" "verdicts missing"
fi
it_assert "SASL_SSL: riskgate's broker connections are to the SASL_SSL port only" \
    only_broker_port "$SASL_PORT"
stop
it_assert_eq "$?" 0 "SASL_SSL: SIGTERM, exit 0"
unset RG_IT_KAFKA_PASSWORD

# ---- 2. mutual TLS, same group: only the new batch
config mtls "$RISKGATE_STACK_MTLS_BOOTSTRAP" "    security.protocol: SSL
    ssl.ca.location: $RISKGATE_STACK_CA
    ssl.certificate.location: $RISKGATE_STACK_CLIENT_CERT
    ssl.key.location: $RISKGATE_STACK_CLIENT_KEY"
batch two 72
start mtls
if verdicts_for two; then
    it_assert "mutual TLS: every event of the new batch has a verdict" \
        "$VERIFY" verdicts --truth "$IT_TMP/two.truth.jsonl" \
        --verdicts <(grep -aF '"e-72_' "$IT_TMP/two.verdicts")
else
    it_fail "mutual TLS: every event of the new batch has a verdict" "verdicts missing"
fi
it_assert "mutual TLS: riskgate's broker connections are to the SSL port only" \
    only_broker_port "$MTLS_PORT"
it_assert "mutual TLS: /readyz 200" is_ready
stop
it_assert_eq "$?" 0 "mutual TLS: SIGTERM, exit 0"

# ---- 3. refused: wrong password, unknown CA, SCRAM on an old librdkafka
batch three 73
before=$(n_verdicts)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$IT_TMP/other-ca.key" \
    -out "$IT_TMP/other-ca.pem" -days 1 -subj "/CN=not the stack CA" 2>/dev/null

# refused NAME WHAT PATTERN: riskgate with NAME.yaml stays up and not ready
# for 10 s, logs PATTERN, makes no verdict, exits 0 on SIGTERM.
refused() {
    local name=$1 what=$2 pattern=$3 code ok=1 i
    start "$name"
    it_assert "$what: the HTTP endpoint is up" test -n "$URL"
    for ((i = 0; i < 20; i++)); do
        code=$(ready_code)
        [ "$code" = 503 ] || ok=0
        sleep 0.5
    done
    it_assert "$what: /readyz 503 for 10 s" test "$ok" = 1
    it_assert "$what: still running" it_pid_alive "$RG_PID"
    it_assert "$what: the log says why" grep -qE "$pattern" "$IT_TMP/$name.log"
    it_assert_eq "$(n_verdicts)" "$before" "$what: no verdict"
    stop
    it_assert_eq "$?" 0 "$what: SIGTERM, exit 0"
}

export RG_IT_KAFKA_PASSWORD=wrong-$PASSWORD
config badpw "$RISKGATE_STACK_SASL_BOOTSTRAP" "    security.protocol: SASL_SSL
    sasl.mechanism: PLAIN
    sasl.username: $RISKGATE_STACK_SASL_USER
    sasl.password: \${RG_IT_KAFKA_PASSWORD}
    ssl.ca.location: $RISKGATE_STACK_CA"
refused badpw "wrong password" "Authentication failed|SASL authentication error"
unset RG_IT_KAFKA_PASSWORD

config badca "$RISKGATE_STACK_MTLS_BOOTSTRAP" "    security.protocol: SSL
    ssl.ca.location: $IT_TMP/other-ca.pem
    ssl.certificate.location: $RISKGATE_STACK_CLIENT_CERT
    ssl.key.location: $RISKGATE_STACK_CLIENT_KEY"
refused badca "unknown CA" "certificate verify failed"

export RG_IT_KAFKA_PASSWORD=$PASSWORD
config scram "$RISKGATE_STACK_SASL_BOOTSTRAP" "    security.protocol: SASL_SSL
    sasl.mechanism: SCRAM-SHA-512
    sasl.username: $RISKGATE_STACK_SASL_USER
    sasl.password: \${RG_IT_KAFKA_PASSWORD}
    ssl.ca.location: $RISKGATE_STACK_CA"
lib=$("$BIN" version | awk '$1 == "librdkafka" { print $2 }')
if [ "$(printf '%s\n2.6.1\n' "$lib" | sort -V | head -1)" != 2.6.1 ]; then
    # Kafka 4 refuses this librdkafka's SCRAM (librdkafka #4895): riskgate
    # warns at start-up and names the way out.
    refused scram "SCRAM with librdkafka $lib" "invalid credentials"
    it_assert "SCRAM with librdkafka $lib: the start-up warning names the fix" \
        grep -q 'librdkafka #4895, fixed in 2.6.1' "$IT_TMP/scram.log"
else
    start scram
    it_assert "SCRAM with librdkafka $lib: /readyz 200" \
        it_wait_until 60 is_ready
    stop
    it_assert_eq "$?" 0 "SCRAM: SIGTERM, exit 0"
fi
unset RG_IT_KAFKA_PASSWORD

for name in sasl mtls badpw badca scram; do
    it_assert "$name: the password is not in the log" \
        bash -c "! grep -qF -- '$PASSWORD' '$IT_TMP/$name.log'"
done

# ---- 4. an unset variable stops start-up, named with its line
unset RG_IT_KAFKA_PASSWORD
RISKGATE_KAFKA_BOOTSTRAP= timeout 30 "$BIN" run -c "$IT_TMP/sasl.yaml" > "$IT_TMP/unset.log" 2>&1
st=$?
it_assert "an unset \${NAME} stops start-up" test "$st" -ne 0 -a "$st" -ne 124
it_assert "the error names the variable and the line" \
    grep -q "sasl.yaml:9:.*environment variable RG_IT_KAFKA_PASSWORD is not set" "$IT_TMP/unset.log"

if [ "$IT_FAILED" -gt 0 ]; then
    for name in sasl mtls badpw badca scram; do
        [ -f "$IT_TMP/$name.log" ] || continue
        echo "# last lines of $name.log:" >&2
        tail -8 "$IT_TMP/$name.log" | sed 's/^/#   /' >&2
    done
fi
it_summary
