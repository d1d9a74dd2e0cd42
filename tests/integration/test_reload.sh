#!/usr/bin/env bash
# test_reload.sh - hot reload on a live engine against a real broker:
#   a rule file added -> new ruleset at an event boundary (verdicts name
#   the new version, the new rule decides); a broken file -> the running
#   ruleset is kept, the failure is logged with file:line:col and counted
#   in riskgate_reloads_total; SIGHUP reloads; a model file replaced by
#   garbage is refused (the old model keeps scoring), a valid new model is
#   swapped in; /healthz and /readyz answer.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
BIN=${RISKGATE_BIN:-$IT_REPO/build/riskgate}
VERIFY=$IT_REPO/tests/integration/verify.py

it_stack_up || { it_fail stack "the local stack did not come up"; it_summary; exit 1; }
cp -r "$IT_REPO/rules" "$IT_TMP/rules"
cp "$IT_REPO/models/default.json" "$IT_TMP/model.json"
cat > "$IT_TMP/riskgate.yaml" <<YAML
kafka:
  group_id: it-reload
model:
  path: $IT_TMP/model.json
rules:
  dir: $IT_TMP/rules
  watch: true
engine:
  workers: 2
http:
  listen: 127.0.0.1:0
YAML

it_rg_start "$IT_TMP/riskgate.yaml"
it_wait_until 30 grep -q 'metrics and health on' "$IT_TMP/riskgate.log"
URL=$(sed -n 's/.*metrics and health on \(http:[^ "]*\).*/\1/p' "$IT_TMP/riskgate.log" | head -1)
ruleset_of() { "$BIN" check --rules "$IT_TMP/rules" 2>/dev/null | sed -n 's/.*rules \([0-9a-f]*\),.*/\1/p'; }
metric() { curl -s "${URL}metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }

# batch NAME SEED: produce 300 events, wait for their verdicts.
batch() {
    "$BIN" gen --out "$IT_TMP/$1.jsonl" --feedback-out /dev/null --truth-out "$IT_TMP/$1.truth.jsonl" \
        --count 300 --users 100 --seed "$2" > /dev/null 2>&1
    it_produce_file transactions "$IT_TMP/$1.jsonl"
    local deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        timeout 30 kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -C -t verdicts -o beginning -e -q \
            -f '%k\t%s\n' 2>/dev/null | grep -aF "\"e-$2_" > "$IT_TMP/$1.verdicts"
        [ "$(wc -l < "$IT_TMP/$1.verdicts")" -ge 300 ] && return 0
        sleep 0.5
    done
    return 1
}
# all_ruleset NAME VERSION: every verdict of NAME names ruleset VERSION.
all_ruleset() { [ "$(grep -ac "\"ruleset\":\"$2\"" "$IT_TMP/$1.verdicts")" -eq 300 ]; }

it_assert "/healthz answers 200" curl -sf "${URL}healthz" -o /dev/null
it_assert "/readyz answers 200 once Kafka, Redis, model and rules are up" \
    it_wait_until 30 curl -sf "${URL}readyz" -o /dev/null
v1=$(ruleset_of)
it_assert "batch 1 decided" batch one 41
it_assert "batch 1 verdicts name the loaded ruleset $v1" all_ruleset one "$v1"
# the profile stores' counters reach /metrics. Lookups are per user per
# batch (a user twice in a batch is one lookup): 300 events of at most 100
# users make between 1 and 100 misses and at most 300 lookups; every round
# trip carries at least one command.
profile_metrics_ok() {
    local hits miss rt cmds out
    hits=$(metric riskgate_profile_cache_hits_total); miss=$(metric riskgate_profile_cache_misses_total)
    rt=$(metric riskgate_redis_round_trips_total); cmds=$(metric riskgate_redis_commands_total)
    out=$(metric riskgate_events_out_total)
    PROFILE_METRICS="events_out $out cache hits $hits misses $miss round trips $rt commands $cmds"
    [ "$out" -eq 300 ] && [ "$miss" -ge 1 ] && [ "$miss" -le 100 ] &&
        [ $((hits + miss)) -le 300 ] && [ "$rt" -ge 1 ] && [ "$cmds" -ge "$rt" ]
}
it_assert "profile cache and Redis round trips are exported to /metrics" \
    it_wait_until 10 profile_metrics_ok
echo "# $PROFILE_METRICS" >&2

# ---- a new rule file: picked up without a restart
cat > "$IT_TMP/zz_it.yaml" <<'YAML'
rules:
  - id: it_deny_everything
    description: test rule added while the engine runs
    when: amount >= 0
    then: deny
    reason: "integration test"
YAML
mv "$IT_TMP/zz_it.yaml" "$IT_TMP/rules/zz_it.yaml"
v2=$(ruleset_of)
it_assert "the new ruleset has another version" test "$v2" != "$v1"
it_wait_until 20 grep -q "ruleset $v2" "$IT_TMP/riskgate.log"
it_assert "batch 2 decided" batch two 42
it_assert "batch 2 verdicts name the new ruleset $v2" all_ruleset two "$v2"
it_assert_eq "$(grep -ac '"it_deny_everything"' "$IT_TMP/two.verdicts")" 300 "the new rule matches every event"
# It denies every event except those an analyst's forced allow protects.
it_assert_eq $(( $(grep -ac '"decision":"deny"' "$IT_TMP/two.verdicts") + \
                 $(grep -ac '"code":"forced_allow"' "$IT_TMP/two.verdicts") )) 300 \
    "the new rule denies every event not force-allowed"
it_assert_eq "$(metric 'riskgate_reloads_total{what="rules",result="ok"}')" 1 "reload counted as ok"

# ---- a broken file: the running ruleset stays
printf 'rules:\n  - id: broken\n    when: amount >> 3\n    then: deny\n' > "$IT_TMP/zz_bad.yaml"
mv "$IT_TMP/zz_bad.yaml" "$IT_TMP/rules/zz_bad.yaml"
it_assert "the failed reload is counted" \
    it_wait_until 20 metric_is 'riskgate_reloads_total{what="rules",result="error"}' 1
it_assert "the failure is logged with file:line:col" grep -aq 'zz_bad.yaml:3:' "$IT_TMP/riskgate.log"
it_assert "batch 3 decided" batch three 43
it_assert "batch 3 still decided by the running ruleset $v2" all_ruleset three "$v2"
it_assert "riskgate still running" it_pid_alive "$RG_PID"

# ---- SIGHUP after the fix
rm -f "$IT_TMP/rules/zz_bad.yaml" "$IT_TMP/rules/zz_it.yaml"
kill -HUP "$RG_PID"
it_assert "SIGHUP (or the file change) brings back the original ruleset" \
    it_wait_until 20 grep -q "reloaded .*ruleset $v1" "$IT_TMP/riskgate.log"
it_assert "batch 4 decided" batch four 44
it_assert "batch 4 decided by the original ruleset again" all_ruleset four "$v1"
it_assert_eq "$(grep -ac '"it_deny_everything"' "$IT_TMP/four.verdicts")" 0 "the removed rule no longer fires"

# ---- the model: garbage is refused, a valid new model is swapped in
model_of() { sed -n 's/.*"model":"\([^"]*\)".*/\1/p' "$IT_TMP/$1.verdicts" | sort -u; }
m1=$(model_of four)
it_assert "verdicts name one model version ($m1)" test "$(model_of four | wc -l)" -eq 1
head -c 5000 "$IT_REPO/models/default.json" > "$IT_TMP/model.tmp"   # truncated JSON
mv "$IT_TMP/model.tmp" "$IT_TMP/model.json"
it_assert "a truncated model file is refused and counted" \
    it_wait_until 20 metric_is 'riskgate_reloads_total{what="model",result="error"}' 1
it_assert "batch 5 decided" batch five 45
it_assert_eq "$(model_of five)" "$m1" "batch 5 still scored by the running model"
ok_before=$(metric 'riskgate_reloads_total{what="model",result="ok"}')   # SIGHUP counted one
cp "$IT_REPO/tests/data/model/gbdt_small.json" "$IT_TMP/model.tmp"
mv "$IT_TMP/model.tmp" "$IT_TMP/model.json"
it_assert "a valid new model is swapped in" \
    it_wait_until 20 metric_is 'riskgate_reloads_total{what="model",result="ok"}' $((ok_before + 1))
it_assert "batch 6 decided" batch six 46
m2=$(model_of six)
it_assert "batch 6 scored by the new model ($m2)" test -n "$m2" -a "$m2" != "$m1" -a "$(model_of six | wc -l)" -eq 1

kill -TERM "$RG_PID"; wait "$RG_PID"; rc=$?; RG_PID=
it_assert_eq "$rc" 0 "graceful exit"
[ "$IT_FAILED" -gt 0 ] && tail -20 "$IT_TMP/riskgate.log" | sed 's/^/#   /' >&2
it_summary
