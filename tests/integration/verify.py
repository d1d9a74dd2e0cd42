#!/usr/bin/python3
"""verify.py - checks of riskgate's Kafka output used by the integration tests.

  verify.py verdicts --truth T.jsonl --verdicts V.txt [--allow-duplicates]
      V.txt: one "key<TAB>value" line per verdict message (kcat -f '%k\t%s\n').
      Every valid event of T (is_malformed false) must have a verdict, no
      verdict may name another event, every verdict must be valid JSON with
      the contract's fields, and its key must equal its user_id. Without
      --allow-duplicates each event has exactly one verdict.
  verify.py count-distinct --truth T.jsonl --verdicts V.txt
      prints how many valid events of T have at least one verdict.
  verify.py dlq --lines FILE.jsonl --expect FILE.expect --dlq D.txt
      D.txt: "key<TAB>headers<TAB>value" per dead letter. Every line of FILE
      must arrive once with the expected riskgate-reason header, source
      headers, and its bytes unchanged except card numbers masked.
  verify.py history --events E.jsonl --verdicts V.txt [--replayed A:B]
      E.jsonl: the events in the order they were produced (one user's events
      in one partition, so in that order). For the first verdict of every
      event (engine.explain: features): the feature user.txn_count_1h is the
      number of the user's earlier events within the hour before it, i.e.
      no update of the user's profile was lost or hidden; and each user's
      verdicts come in the order of the user's events. --replayed A:B: the
      events A..B-1 (0-based lines of E) may have been consumed again after
      a crash; their features come from the state that already holds them
      and what else the dead instance applied (at-least-once;
      docs/profiles.md), so their count may be higher, up to the user's
      events before line B (the event itself included), never lower.
Exit status 0 when every check holds; problems are printed.
"""
import json
import re
import sys

DECISIONS = {"allow", "step_up", "deny"}


def valid_ids(truth):
    ids = {}
    with open(truth, "rb") as f:
        for line in f:
            t = json.loads(line)
            if not t["is_malformed"]:
                ids[t["event_id"]] = t["user_id"]
    return ids


def read_verdicts(path):
    out = []
    with open(path, "rb") as f:
        for raw in f:
            raw = raw.rstrip(b"\n")
            if not raw:
                continue
            key, _, val = raw.partition(b"\t")
            out.append((key.decode(), val))
    return out


def cmd_verdicts(args):
    truth = args[args.index("--truth") + 1]
    vpath = args[args.index("--verdicts") + 1]
    dup_ok = "--allow-duplicates" in args
    ids = valid_ids(truth)
    seen = {}
    problems = []
    for key, val in read_verdicts(vpath):
        try:
            v = json.loads(val)
        except ValueError:
            problems.append("verdict is not JSON: %r" % val[:80])
            continue
        for field in ("event_id", "user_id", "decision", "score", "reasons", "rules",
                      "degraded", "latency_us", "decided_at"):
            if field not in v:
                problems.append("verdict %s lacks %s" % (v.get("event_id"), field))
        if v.get("decision") not in DECISIONS:
            problems.append("bad decision %r" % v.get("decision"))
        if v.get("decision") == "step_up" and "step_up" not in v:
            problems.append("step_up verdict without method: %s" % v.get("event_id"))
        if key != v.get("user_id"):
            problems.append("verdict key %r != user_id %r" % (key, v.get("user_id")))
        eid = v.get("event_id")
        if eid not in ids:
            problems.append("verdict for unknown event %r" % eid)
        elif ids[eid] != v.get("user_id"):
            problems.append("verdict %s names user %s" % (eid, v.get("user_id")))
        seen[eid] = seen.get(eid, 0) + 1
    missing = [e for e in ids if e not in seen]
    dups = [e for e, n in seen.items() if n > 1]
    if missing:
        problems.append("%d event(s) without a verdict, e.g. %s" % (len(missing), missing[:3]))
    if dups and not dup_ok:
        problems.append("%d event(s) with more than one verdict, e.g. %s" % (len(dups), dups[:3]))
    for p in problems[:20]:
        print("verify:", p)
    print("verify: %d valid events, %d verdict messages, %d distinct, %d duplicated"
          % (len(ids), sum(seen.values()), len(seen), len(dups)))
    return 1 if problems else 0


def cmd_count_distinct(args):
    truth = args[args.index("--truth") + 1]
    vpath = args[args.index("--verdicts") + 1]
    ids = valid_ids(truth)
    seen = set()
    for _, val in read_verdicts(vpath):
        try:
            eid = json.loads(val).get("event_id")
        except ValueError:
            continue
        if eid in ids:
            seen.add(eid)
    print(len(seen))
    return 0


def ts_ms(v):
    if isinstance(v, (int, float)):
        return int(v)
    from datetime import datetime
    return int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000)


def cmd_history(args):
    epath = args[args.index("--events") + 1]
    vpath = args[args.index("--verdicts") + 1]
    lo = hi = 0
    if "--replayed" in args:
        lo, hi = (int(x) for x in args[args.index("--replayed") + 1].split(":"))
    want, order, seen_ts, replayed, upto_b = {}, {}, {}, {}, {}
    with open(epath, "rb") as f:
        for i, line in enumerate(f):
            ev = json.loads(line)
            uid, t = ev["user_id"], ts_ms(ev["ts"])
            prior = seen_ts.setdefault(uid, [])
            want[ev["event_id"]] = sum(1 for p in prior if t - 3600000 < p <= t)
            order.setdefault(uid, []).append(ev["event_id"])
            prior.append(t)
            if lo <= i < hi:
                replayed[ev["event_id"]] = uid
            if i < hi:
                upto_b[uid] = upto_b.get(uid, 0) + 1
    got, got_order = {}, {}
    for _, val in read_verdicts(vpath):
        v = json.loads(val)
        eid = v.get("event_id")
        if eid not in want or eid in got:
            continue
        got[eid] = (v.get("features") or {}).get("user.txn_count_1h")
        got_order.setdefault(v["user_id"], []).append(eid)
    problems = []
    def ok(e):
        if e in replayed:
            return got[e] is not None and want[e] <= got[e] <= upto_b[replayed[e]]
        return got[e] == want[e]
    wrong = [e for e in want if e in got and not ok(e)]
    for e in wrong[:10]:
        problems.append("%s: user.txn_count_1h %s, expected %d" % (e, got[e], want[e]))
    if wrong:
        problems.append("%d of %d verdicts count the user's history wrong" % (len(wrong), len(got)))
    missing = [e for e in want if e not in got]
    if missing:
        problems.append("%d event(s) without a verdict, e.g. %s" % (len(missing), missing[:3]))
    for uid, evs in order.items():
        if got_order.get(uid, []) != [e for e in evs if e in got]:
            problems.append("user %s: verdicts out of event order" % uid)
    for p in problems[:25]:
        print("verify:", p)
    print("verify: %d events, %d users, %d first verdicts, %d with a wrong history count"
          % (len(want), len(order), len(got), len(wrong)))
    return 1 if problems else 0


PAN = re.compile(rb"[2-6](?:[ -]?\d){12,18}")


def cmd_dlq(args):
    lines_path = args[args.index("--lines") + 1]
    expect_path = args[args.index("--expect") + 1]
    dpath = args[args.index("--dlq") + 1]
    with open(lines_path, "rb") as f:
        lines = [l.rstrip(b"\n") for l in f]
    with open(expect_path) as f:
        expect = [l.strip() for l in f]
    got = []
    with open(dpath, "rb") as f:
        for raw in f:
            raw = raw.rstrip(b"\n")
            if not raw:
                continue
            key, hdrs, val = raw.split(b"\t", 2)
            h = {}
            for kv in hdrs.split(b","):
                k, _, v = kv.partition(b"=")
                h[k.decode()] = v.decode(errors="replace")
            got.append((h, val))
    problems = []
    for line, reason in zip(lines, expect):
        matches = [g for g in got if g[1] == line or mask_equal(line, g[1])]
        if len(matches) != 1:
            problems.append("line %r...: %d dead letters" % (line[:40], len(matches)))
            continue
        h, val = matches[0]
        if h.get("riskgate-reason") != reason:
            problems.append("line %r...: reason %r, expected %r"
                            % (line[:40], h.get("riskgate-reason"), reason))
        for k in ("riskgate-source-topic", "riskgate-source-partition",
                  "riskgate-source-offset", "riskgate-reason-message"):
            if k not in h:
                problems.append("dead letter lacks header %s" % k)
        if reason == "card_number":
            if val == line:
                problems.append("card number not masked")
            if re.search(rb"4111 1111 1111 1111|5500-0000-0000-0004", val):
                problems.append("full card number forwarded")
    if len(got) != len(lines):
        problems.append("%d dead letters for %d bad lines" % (len(got), len(lines)))
    for p in problems[:20]:
        print("verify:", p)
    print("verify: %d bad lines, %d dead letters" % (len(lines), len(got)))
    return 1 if problems else 0


def mask_equal(orig, masked):
    """True when masked equals orig with some digits replaced by '*' and the
    first 6 / last 4 digits of each masked run kept."""
    if len(orig) != len(masked):
        return False
    for a, b in zip(orig, masked):
        if a != b and not (b == ord("*") and chr(a).isdigit()):
            return False
    return orig != masked


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cmd = sys.argv[1]
    args = sys.argv[2:]
    if cmd == "verdicts":
        return cmd_verdicts(args)
    if cmd == "count-distinct":
        return cmd_count_distinct(args)
    if cmd == "dlq":
        return cmd_dlq(args)
    if cmd == "history":
        return cmd_history(args)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
