#!/usr/bin/env bash
# test_docs.sh - the generated references are current: docs/config.md and
# docs/features.md must equal what the binary prints from its tables; the
# Kubernetes manifest's config passes `riskgate check`.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${RISKGATE_BIN:-$REPO/build/riskgate}
passed=0; failed=0
check() { # check NAME FILE CMD...
    local name=$1 file=$2
    shift 2
    if diff -u "$file" <("$@") > /dev/null; then
        echo "ok - $name"; passed=$((passed + 1))
    else
        echo "not ok - $name: $file is stale; regenerate with: $* > $file"; failed=$((failed + 1))
    fi
}
check "docs/config.md matches the config key table" "$REPO/docs/config.md" "$BIN" config reference
check "docs/features.md matches the feature catalog" "$REPO/docs/features.md" "$BIN" features

# The config and rule file the Kubernetes manifest ships pass `riskgate
# check`, with its commented SASL_SSL block switched on and the password in
# the environment, as the Deployment sets it from its secret; without the
# variable, check names it. And check runs librdkafka's own validation.
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-docs.XXXXXX")
trap 'rm -rf "$T"' EXIT
K8S=$REPO/deploy/k8s/riskgate.yaml
block() { awk -v k="$1: |" 'index($0, k) { f = 1; next } f && /^---/ { exit } f { sub(/^    /, ""); print }' "$K8S"; }
mkdir -p "$T/rules"
block 10-high-amount.yaml > "$T/rules/10-high-amount.yaml"
block riskgate.yaml | sed -e 's/^  # \(properties:\)/  \1/' -e 's/^  #   /    /' \
    -e "s#/etc/riskgate/models/#$REPO/models/#" -e "s#/etc/riskgate/rules#$T/rules#" > "$T/k8s.yaml"
chk() { # chk NAME CMD...: CMD succeeds
    local name=$1
    shift
    if "$@" > "$T/out" 2>&1; then
        echo "ok - $name"; passed=$((passed + 1))
    else
        echo "not ok - $name:"; sed 's/^/#   /' "$T/out"; failed=$((failed + 1))
    fi
}
chk "the manifest's config has a SASL_SSL block to switch on" grep -q 'sasl.password: ${RISKGATE_KAFKA_PASSWORD}' "$T/k8s.yaml"
chk "the manifest's config and rules pass riskgate check" \
    env RISKGATE_KAFKA_PASSWORD=x "$BIN" check -c "$T/k8s.yaml"
chk "without RISKGATE_KAFKA_PASSWORD, check fails and names it" \
    bash -c "! env -u RISKGATE_KAFKA_PASSWORD '$BIN' check -c '$T/k8s.yaml' > '$T/nopw.out' 2>&1 && grep -q 'RISKGATE_KAFKA_PASSWORD is not set' '$T/nopw.out'"
printf 'kafka:\n  producer_properties:\n    linger.ms: soon\n' > "$T/bad.yaml"
chk "check refuses a property librdkafka rejects, naming it" \
    bash -c "! '$BIN' check -c '$T/bad.yaml' > '$T/bad.out' 2>&1 && grep -q 'producer_properties.linger.ms=soon' '$T/bad.out'"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
