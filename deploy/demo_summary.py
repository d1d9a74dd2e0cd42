#!/usr/bin/python3
"""demo_summary.py - the summary `make demo` prints.

usage: demo_summary.py TRUTH.jsonl INPUT.txt VERDICTS.txt DLQ_COUNT ELAPSED_S

TRUTH:    riskgate gen --truth-out (scenario and label per event)
INPUT:    the input topic as kcat -f '%T\t%s\n' (produce timestamp, event)
VERDICTS: the verdict topic as kcat -f '%T\t%s\n'
Kafka-to-verdict latency = verdict produce timestamp - event produce timestamp,
for all events and for those produced after the first WARM_MS (the stack,
the generator's producer and riskgate's caches all start cold; the
benchmark reports the same split).
"""
import json
import sys

WARM_MS = 2000


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def main():
    truth_p, input_p, verdict_p, dlq_count, elapsed = sys.argv[1:6]
    truth = {}
    with open(truth_p) as f:
        for line in f:
            t = json.loads(line)
            truth[t["event_id"]] = t
    produced = {}
    with open(input_p, "rb") as f:
        for raw in f:
            ts, _, val = raw.rstrip(b"\n").partition(b"\t")
            try:
                produced[json.loads(val)["event_id"]] = int(ts)
            except (ValueError, KeyError, TypeError, RecursionError):
                pass
    verdicts = {}
    lat_ms = []
    lat_warm = []
    first_ts = min(produced.values()) if produced else 0
    decided_us = []
    with open(verdict_p, "rb") as f:
        for raw in f:
            ts, _, val = raw.rstrip(b"\n").partition(b"\t")
            try:
                v = json.loads(val)
            except (ValueError, RecursionError):
                continue
            eid = v["event_id"]
            if eid in verdicts:
                continue
            verdicts[eid] = v
            decided_us.append(v.get("latency_us", 0))
            if eid in produced:
                lat_ms.append(int(ts) - produced[eid])
                if produced[eid] >= first_ts + WARM_MS:
                    lat_warm.append(int(ts) - produced[eid])
    mix = {"allow": 0, "step_up": 0, "deny": 0}
    for v in verdicts.values():
        mix[v["decision"]] += 1
    scen = {}
    good_events = good_flagged = 0
    good_users, good_users_bothered = set(), set()
    friction_reasons = {}
    for eid, t in truth.items():
        if t.get("is_malformed"):
            continue
        v = verdicts.get(eid)
        if t["scenario"] == "normal":
            good_events += 1
            good_users.add(t["user_id"])
            if v and v["decision"] != "allow":
                good_flagged += 1
                good_users_bothered.add(t["user_id"])
                for r in v.get("reasons", []):
                    friction_reasons[r["code"]] = friction_reasons.get(r["code"], 0) + 1
            continue
        s = scen.setdefault(t["scenario"], {"events": 0, "step_up": 0, "deny": 0, "missed": 0})
        s["events"] += 1
        if not v or v["decision"] == "allow":
            s["missed"] += 1
        else:
            s[v["decision"]] += 1
    n_valid = sum(1 for t in truth.values() if not t.get("is_malformed"))
    n_bad = sum(1 for t in truth.values() if t.get("is_malformed"))
    lat_ms.sort()
    lat_warm.sort()
    decided_us.sort()
    el = float(elapsed)
    print()
    print("=" * 72)
    print("riskgate demo summary")
    print("=" * 72)
    print("events in                 %8d  (%d valid, %d malformed)" % (len(truth), n_valid, n_bad))
    print("verdicts                  %8d  allow %d, step_up %d, deny %d"
          % (len(verdicts), mix["allow"], mix["step_up"], mix["deny"]))
    print("dead letters              %8s  (expected %d malformed)" % (dlq_count, n_bad))
    print("missing verdicts          %8d" % (n_valid - sum(1 for e in truth if e in verdicts)))
    print("throughput                %8.0f  events/s over %.0f s" % (len(verdicts) / el if el else 0, el))
    print("kafka-to-verdict latency  p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms"
          % (pct(lat_ms, 50), pct(lat_ms, 99), pct(lat_ms, 99.9)))
    print("  after the first %d s    p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms  (%d events; cold start excluded)"
          % (WARM_MS // 1000, pct(lat_warm, 50), pct(lat_warm, 99), pct(lat_warm, 99.9), len(lat_warm)))
    print("decision latency in riskgate  p50 %d us, p99 %d us"
          % (pct(decided_us, 50), pct(decided_us, 99)))
    print()
    print("%-24s %7s %7s %7s %7s %8s" % ("fraud scenario", "events", "deny", "step_up", "missed", "caught"))
    for name, s in sorted(scen.items()):
        caught = s["deny"] + s["step_up"]
        print("%-24s %7d %7d %7d %7d %7.1f%%" % (name, s["events"], s["deny"], s["step_up"],
                                               s["missed"], 100.0 * caught / s["events"]))
    print()
    print("good events stepped up or denied: %d of %d (%.2f%%); good users bothered: %d of %d"
          % (good_flagged, good_events, 100.0 * good_flagged / max(1, good_events),
             len(good_users_bothered), len(good_users)))
    print("what bothered good users most (reason codes on their step-ups/denials):")
    for code, n in sorted(friction_reasons.items(), key=lambda kv: -kv[1])[:6]:
        print("  %-36s %6d" % (code, n))
    print("(synthetic traffic: a few very heavy users dominate; tune rules with riskgate replay)")
    print("=" * 72)
    return 0 if n_valid == sum(1 for e in truth if e in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
