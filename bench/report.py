#!/usr/bin/python3
"""report.py - turn the raw files of bench/run.sh and bench/soak.sh into
results JSON and a PNG chart, and check them.

  report.py eps VERDICTS.tsv                    events/s first..last CreateTime
  report.py bench WORKDIR OUTPREFIX             -> OUTPREFIX.json, OUTPREFIX.png
  report.py soak WORKDIR OUTPREFIX              -> OUTPREFIX.json, OUTPREFIX.png
  report.py probe WORKDIR NAME                  one bench/probe.sh probe -> a line, probe.jsonl
  report.py probe-summary WORKDIR CMD ENV       all probes, by variant, and the command

DESIGN
  The shell scripts only collect raw facts (timestamps per event_id from
  bench/tsread.c, redis-server INFO snapshots, /proc samples, the
  pass-through's JSON); every number is computed here, in one place, so the
  definitions in docs/benchmarks.md have one implementation.
  Redis commands are split by where they run: the commands riskgate sends
  over the wire (EVALSHA, MGET, GET, SCRIPT LOAD, PING, ...) and the data
  commands that its Lua scripts run inside redis-server (HSET, PEXPIRE, ...,
  listed in src/profile/scripts.h). redis-server counts both in
  commandstats and total_commands_processed; the benchmark's own INFO and
  FLUSHALL are left out.
  Exit status: 1 when a check fails (an event without exactly one verdict,
  a run that did not finish), after writing the results with
  "status": "FAILED".
"""
import bisect
import datetime
import json
import os
import re
import sys

# Data commands run by riskgate's Lua scripts: every redis.call('NAME' in
# src/profile/scripts.h (read at run time, so a changed script is counted
# right), else the list as of this writing. redis-server's counters do not
# tell a script's GET from one riskgate sends (a feedback label for a user
# not in the cache, rare): such a GET counts as inner.
LUA_INNER = {"append", "get", "hget", "hincrby", "hmget", "hset", "pexpire", "set", "setrange"}
_SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "profile", "scripts.h")
if os.path.exists(_SCRIPTS):
    _names = set(m.lower() for m in re.findall(r"redis\.p?call\(\s*'([A-Za-z]+)'", open(_SCRIPTS).read()))
    if _names:
        LUA_INNER = _names
# Commands the benchmark itself sends.
BENCH_OWN = {"info", "flushall"}


def read_tsv(path):
    """[(ts_ms, event_id)] from a tsread file."""
    out = []
    with open(path, "rb") as f:
        for line in f:
            parts = line.rstrip(b"\n").split(b"\t")
            if len(parts) == 3:
                out.append((int(parts[0]), parts[2]))
    return out


def eps_of(rows):
    if len(rows) < 2:
        return 0.0
    ts = [r[0] for r in rows]
    span = (max(ts) - min(ts)) / 1000.0
    return (len(rows) - 1) / span if span > 0 else 0.0


def redis_info(path):
    info, cmds = {}, {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        if k.startswith("cmdstat_"):
            fields = dict(x.split("=", 1) for x in v.split(","))
            cmds[k[len("cmdstat_"):]] = int(fields.get("calls", 0))
        else:
            info[k] = v
    return info, cmds


def redis_delta(work, name, events):
    i0, c0 = redis_info(os.path.join(work, name + ".redis0"))
    i1, c1 = redis_info(os.path.join(work, name + ".redis1"))
    delta = {k: c1.get(k, 0) - c0.get(k, 0) for k in set(c0) | set(c1)}
    delta = {k: v for k, v in delta.items() if v > 0 and k not in BENCH_OWN}
    wire = sum(v for k, v in delta.items() if k not in LUA_INNER)
    inner = sum(v for k, v in delta.items() if k in LUA_INNER)
    cpu = lambda i: float(i.get("used_cpu_user", 0)) + float(i.get("used_cpu_sys", 0))
    n = max(events, 1)
    return {
        "cmds_sent_per_event": round(wire / n, 4),
        "cmds_incl_lua_per_event": round((wire + inner) / n, 3),
        "redis_cpu_us_per_event": round((cpu(i1) - cpu(i0)) * 1e6 / n, 2),
        "commandstats_delta": dict(sorted(delta.items())),
    }


def proc_stats(work, name):
    p = json.load(open(os.path.join(work, name + ".proc.json")))
    dn = p["n1"] - p["n0"]
    dcpu = (p["cpu_ticks1"] - p["cpu_ticks0"]) / p["clk_tck"]
    dbroker = (p.get("broker_ticks1", 0) - p.get("broker_ticks0", 0)) / p["clk_tck"]
    return {
        "cpu_us_per_event": round(dcpu * 1e6 / dn, 2) if dn > 0 else None,
        "broker_cpu_us_per_event": round(dbroker * 1e6 / dn, 2) if dn > 0 else None,
        "cpu_events_measured": dn,
        "rss_mb": round(p["vmrss_kb"] / 1024.0, 1),
        "rss_peak_mb": round(p["vmhwm_kb"] / 1024.0, 1),
    }


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def joined(events_tsv, out_tsv):
    """Read a run's events and outputs once: ({event_id: event ts},
    [(event ts, output ts)] for the first output of each event, in output
    order). Latency, the per-second series and the GC attribution are all
    computed from this."""
    ev = {eid: ts for ts, eid in read_tsv(events_tsv)}
    seen, pairs = set(), []
    for ts, eid in read_tsv(out_tsv):
        if eid in ev and eid not in seen:
            seen.add(eid)
            pairs.append((ev[eid], ts))
    return ev, pairs


def join_latency(j, warmup_s):
    """Latencies (ms) of the first output per event, split at warmup_s
    seconds after the first event: (all, after_warmup)."""
    ev, pairs = j
    if not ev:
        return [], []
    t_warm = min(ev.values()) + warmup_s * 1000
    lat = sorted(o - e for e, o in pairs)
    steady = sorted(o - e for e, o in pairs if e >= t_warm)
    return lat, steady


def per_second(j):
    """[(second since the first event, events, p50, p99, max)] of latency
    by event CreateTime: shows whether the tail is a warm-up, periodic
    stalls or spread evenly."""
    ev, pairs = j
    if not ev:
        return []
    t0 = min(ev.values())
    buckets = {}
    for e, o in pairs:
        buckets.setdefault((e - t0) // 1000, []).append(o - e)
    out = []
    for k in sorted(buckets):
        v = sorted(buckets[k])
        out.append([k, len(v), pct(v, 0.5), pct(v, 0.99), v[-1]])
    return out


GC_LINE = re.compile(r"^\[([^\]]+)\].*\bPause\b.*?([0-9.]+)ms\s*$")


def gc_pauses(path):
    """[(start_ms, end_ms)] wall clock of the broker's GC pauses, from its
    -Xlog:gc log (the "time" decorator is when the pause ended)."""
    out = []
    if not os.path.exists(path):
        return out
    for line in open(path, errors="replace"):
        m = GC_LINE.match(line)
        if not m:
            continue
        try:
            end = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000
        except ValueError:
            continue
        out.append((end - float(m.group(2)), end))
    out.sort()
    return out


def gc_attribution(j, warmup_s, pauses, slow_ms=10, lead_ms=50):
    """How the broker's GC pauses line up with the slow events after the
    warm-up: pauses in that window, and how many events slower than slow_ms
    had a pause in flight (overlapping [produced - lead_ms, verdict]: an
    event produced just after a pause still waits for the backlog it left)."""
    ev, pairs = j
    if not ev:
        return None
    t_warm = min(ev.values()) + warmup_s * 1000
    starts = [p[0] for p in pauses]
    slow = with_gc = measured = 0
    t_last = t_warm
    for e, ts in pairs:
        if e < t_warm:
            continue
        measured += 1
        t_last = max(t_last, ts)
        if ts - e <= slow_ms:
            continue
        slow += 1
        lo, hi = e - lead_ms, ts
        # the last pause to start before the verdict ends latest (pauses do
        # not overlap): it overlaps the flight iff it ends after lo
        i = bisect.bisect_right(starts, hi)
        if i > 0 and pauses[i - 1][1] >= lo:
            with_gc += 1
    win = [p for p in pauses if p[1] >= t_warm and p[0] <= t_last]
    durs = [p[1] - p[0] for p in win]
    return {"broker_gc_pauses": len(win), "broker_gc_pause_ms_total": round(sum(durs), 1),
            "broker_gc_pause_ms_max": round(max(durs), 1) if durs else 0.0,
            "events_over_%d_ms" % slow_ms: slow,
            "events_over_%d_ms_with_broker_gc_in_flight" % slow_ms: with_gc,
            "events_measured": measured}


def p99_spread(rows, warmup_s):
    """Median, lowest and highest per-second p99 after the warm-up: whether
    the tail is spread over the run or made by a few bad seconds."""
    v = sorted(r[3] for r in rows if r[0] >= warmup_s and r[1] > 0)
    if not v:
        return None
    return {"median_ms": pct(v, 0.5), "min_ms": v[0], "max_ms": v[-1], "seconds": len(v)}


def pcts(lat):
    return {"p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "p999_ms": pct(lat, 0.999),
            "max_ms": lat[-1] if lat else None, "samples": len(lat)}


def check_one_verdict(rows, want, label, problems):
    ids = [r[1] for r in rows]
    distinct = len(set(ids))
    dup = len(ids) - distinct
    if distinct != want:
        problems.append("%s: %d distinct event_ids in verdicts, want %d" % (label, distinct, want))
    return {"verdicts": len(ids), "distinct_event_ids": distinct, "duplicates": dup}


def bench(work, prefix):
    problems = []
    params = json.load(open(os.path.join(work, "params.json")))
    machine = json.load(open(os.path.join(work, "machine.json")))
    machine["loadavg_end"] = os.getloadavg()
    events = params["events"]

    pt = json.load(open(os.path.join(work, "passthrough.json")))
    pt_rows = read_tsv(os.path.join(work, "passthrough.tsv"))
    pt_eps = eps_of(pt_rows)
    if len(pt_rows) != events:
        problems.append("passthrough: %d messages copied, want %d" % (len(pt_rows), events))
    machine["versions"]["librdkafka"] = pt.get("librdkafka")

    mx_rows = read_tsv(os.path.join(work, "max.verdicts.tsv"))
    mx_check = check_one_verdict(mx_rows, events, "max-rate run", problems)
    mx_eps = eps_of(mx_rows)
    mx_proc = proc_stats(work, "max")
    mx_redis = redis_delta(work, "max", events)

    rate = json.load(open(os.path.join(work, "rate.json")))
    warm = params.get("warmup_s", 5)
    vr = read_tsv(os.path.join(work, "rate.verdicts.tsv"))
    rate_check = check_one_verdict(vr, rate["events"], "half-rate run", problems)
    rate_j = joined(os.path.join(work, "rate.events.tsv"), os.path.join(work, "rate.verdicts.tsv"))
    pt_j = joined(os.path.join(work, "rate-pt.events.tsv"), os.path.join(work, "rate-pt.out.tsv"))
    lat_all, lat = join_latency(rate_j, warm)
    pt_all, pt_lat = join_latency(pt_j, warm)
    series = {"columns": ["second", "events", "p50_ms", "p99_ms", "max_ms"],
              "riskgate": per_second(rate_j), "passthrough": per_second(pt_j)}
    pauses = gc_pauses(os.path.join(work, "kafka-gc.log"))
    gc_rate = gc_attribution(rate_j, warm, pauses)
    gc_pt = gc_attribution(pt_j, warm, pauses)
    if len(pt_all) != rate["events"]:
        problems.append("half-rate pass-through: %d copies, want %d" % (len(pt_all), rate["events"]))
    pt_b0 = int(open(os.path.join(work, "passthrough.broker0")).read() or 0)
    pt_b1 = int(open(os.path.join(work, "passthrough.broker1")).read() or 0)
    clk = os.sysconf("SC_CLK_TCK")
    rpt_b0 = int(open(os.path.join(work, "rate-pt.broker0")).read() or 0)
    rpt_b1 = int(open(os.path.join(work, "rate-pt.broker1")).read() or 0)
    rate_redis = redis_delta(work, "rate", rate["events"])
    rate_proc = proc_stats(work, "rate")

    scaling = []
    for f in sorted(os.listdir(work)):
        if f.startswith("scale-") and f.endswith(".json") and not f.endswith(".proc.json"):
            name = f[:-5]
            meta = json.load(open(os.path.join(work, f)))
            rows = read_tsv(os.path.join(work, name + ".verdicts.tsv"))
            chk = check_one_verdict(rows, meta["events"], name, problems)
            rd = redis_delta(work, name, meta["events"])
            pr = proc_stats(work, name)
            scaling.append({"users": meta["users"], "workers": meta["workers"], "events": meta["events"],
                            "eps": round(eps_of(rows), 1),
                            "cpu_us_per_event": pr["cpu_us_per_event"], "rss_mb": pr["rss_mb"],
                            "rss_peak_mb": pr["rss_peak_mb"],
                            "redis_cmds_per_event": rd["cmds_sent_per_event"],
                            "redis_cmds_incl_lua_per_event": rd["cmds_incl_lua_per_event"],
                            "redis_cpu_us_per_event": rd["redis_cpu_us_per_event"],
                            "distinct_event_ids": chk["distinct_event_ids"], "duplicates": chk["duplicates"]})
    scaling.sort(key=lambda s: (s["users"], s["workers"]))

    ratio = mx_eps / pt_eps if pt_eps > 0 else 0.0
    p50, p99, p999 = (pct(lat, q) for q in (0.5, 0.99, 0.999))
    commands = [l.rstrip("\n") for l in open(os.path.join(work, "commands.txt"))]
    res = {
        "status": "FAILED" if problems else "ok",
        "problems": problems,
        "date": params["stamp"],
        "passthrough_eps": round(pt_eps, 1),
        "passthrough_eps_delivery_reports": pt.get("eps_dr"),
        "passthrough_cpu_us_per_event": pt.get("cpu_us_per_event"),
        "passthrough_broker_cpu_us_per_event": round((pt_b1 - pt_b0) / clk * 1e6 / max(events, 1), 2),
        "riskgate_eps": round(mx_eps, 1),
        "ratio_vs_passthrough": round(ratio, 3),
        "half_rate_eps": rate["rate"],
        "p50_ms_at_half_rate": p50,
        "p99_ms_at_half_rate": p99,
        "p999_ms_at_half_rate": p999,
        "latency_warmup_s": warm,
        "gen_linger_ms": params.get("gen_linger_ms", 5),
        "latency_at_half_rate": {"riskgate_after_warmup": pcts(lat), "riskgate_incl_warmup": pcts(lat_all),
                                 "passthrough_after_warmup": pcts(pt_lat),
                                 "passthrough_incl_warmup": pcts(pt_all),
                                 "per_second": series,
                                 "per_second_p99_after_warmup": p99_spread(series["riskgate"], warm),
                                 "broker_gc": {"riskgate": gc_rate, "passthrough": gc_pt}},
        "redis_cmds_per_event": mx_redis["cmds_sent_per_event"],
        "redis_cmds_per_event_at_half_rate": rate_redis["cmds_sent_per_event"],
        "redis_cmds_incl_lua_per_event": mx_redis["cmds_incl_lua_per_event"],
        "redis_cpu_us_per_event": mx_redis["redis_cpu_us_per_event"],
        "cpu_us_per_event": mx_proc["cpu_us_per_event"],
        "broker_cpu_us_per_event": mx_proc["broker_cpu_us_per_event"],
        "rss_mb": mx_proc["rss_mb"],
        "rss_peak_mb": mx_proc["rss_peak_mb"],
        "max_run": {"events": events, "users": params["users"], **mx_check, **mx_proc,
                    "redis": mx_redis},
        "half_rate_run": {"rate": rate["rate"], "events": rate["events"],
                          "passthrough_broker_cpu_us_per_event":
                              round((rpt_b1 - rpt_b0) / clk * 1e6 / max(rate["events"], 1), 2),
                          "feedback_consumed": bool(rate.get("feedback")), **rate_check, **rate_proc,
                          "redis": rate_redis},
        "scaling": scaling,
        "goals": {
            "ratio_ge_0.7": ratio >= 0.7,
            # None: too few events after the warm-up to judge (a short quick run).
            "p99_le_10ms_at_half_rate": (p99 <= 10) if len(lat) >= 1000 else None,
            "redis_cmds_le_0.5_per_event": mx_redis["cmds_sent_per_event"] <= 0.5,
        },
        "params": params,
        "machine": machine,
        "elapsed_s": int(open(os.path.join(work, "elapsed_s")).read().strip() or 0),
        "latency_note": "Kafka CreateTime has millisecond resolution; latencies are whole ms.",
        "commands": commands,
    }
    with open(prefix + ".json", "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    chart_bench(res, {"riskgate (after %d s warm-up)" % warm: lat, "riskgate (all)": lat_all,
                      "pass-through (after %d s)" % warm: pt_lat}, prefix + ".png")
    print_bench(res, prefix)
    return 1 if problems else 0


def chart_bench(res, lats, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5))
    labels = ["pass-through", "riskgate\n(%dk users, %s)" % (res["params"]["users"] // 1000, "2 w")]
    vals = [res["passthrough_eps"], res["riskgate_eps"]]
    colors = ["#888888", "#1f77b4"]
    for s in res["scaling"]:
        u = s["users"]
        labels.append("%s users\n%d worker%s" % ("%dM" % (u // 1000000) if u >= 1000000 else "%dk" % (u // 1000),
                                                 s["workers"], "s" if s["workers"] > 1 else ""))
        vals.append(s["eps"])
        colors.append("#ff7f0e" if s["workers"] == 1 else "#2ca02c")
    a1.bar(range(len(vals)), vals, color=colors)
    a1.set_xticks(range(len(vals)))
    a1.set_xticklabels(labels, fontsize=7)
    a1.set_ylabel("events/s")
    a1.set_title("Throughput (ratio riskgate/pass-through %.2f)" % res["ratio_vs_passthrough"])
    for i, v in enumerate(vals):
        a1.text(i, v, "%.0f" % v, ha="center", va="bottom", fontsize=7)
    for label, lat in lats.items():
        if not lat:
            continue
        n = len(lat)
        a2.plot(lat, [(i + 1) / n for i in range(n)],
                label="%s: p50 %d, p99 %d, p99.9 %d ms" % (label, pct(lat, 0.5), pct(lat, 0.99), pct(lat, 0.999)))
    a2.set_xscale("symlog", linthresh=1)
    a2.axvline(10, ls="--", lw=0.8, color="red")
    a2.text(10, 0.02, " goal p99 10 ms", fontsize=7, color="red")
    a2.legend(fontsize=7, loc="lower right")
    a2.set_xlabel("Kafka-to-verdict latency (ms, CreateTime)")
    a2.set_ylabel("fraction of events")
    a2.set_title("Latency CDF at %d events/s (half the max)" % res["half_rate_eps"])
    a2.grid(alpha=0.3)
    m = res["machine"]
    fig.suptitle("riskgate bench %s  -  %d cores, %s, load avg %.1f" %
                 (res["date"], m["nproc"], m["cpu_model"][:40], m["loadavg_start"][0]), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def print_bench(res, prefix):
    p = lambda *a: print(*a, file=sys.stderr)
    g = res["goals"]
    mark = lambda ok: "n/a (too few events after the warm-up)" if ok is None else "met" if ok else "MISSED"
    p("")
    p("bench: results (%s)" % res["status"])
    p("  pass-through            %10.0f events/s" % res["passthrough_eps"])
    p("  riskgate (max rate)     %10.0f events/s   ratio %.2f  (goal >= 0.7: %s)" %
      (res["riskgate_eps"], res["ratio_vs_passthrough"], mark(g["ratio_ge_0.7"])))
    p("  latency at %d ev/s, after %d s warm-up: p50 %s ms  p99 %s ms  p99.9 %s ms  (goal p99 <= 10 ms: %s)" %
      (res["half_rate_eps"], res["latency_warmup_s"], res["p50_ms_at_half_rate"], res["p99_ms_at_half_rate"],
       res["p999_ms_at_half_rate"], mark(g["p99_le_10ms_at_half_rate"])))
    p("      (events produced by gen with linger.ms=%s; the pass-through rows are Kafka alone)" %
      res["gen_linger_ms"])
    for k, v in res["latency_at_half_rate"].items():
        if k in ("per_second", "broker_gc", "per_second_p99_after_warmup"):
            continue
        p("      %-26s p50 %s  p99 %s  p99.9 %s  max %s ms (%d events)" %
          (k, v["p50_ms"], v["p99_ms"], v["p999_ms"], v["max_ms"], v["samples"]))
    sp = res["latency_at_half_rate"]["per_second_p99_after_warmup"]
    if sp:
        p("      per-second p99 after the warm-up: median %s ms, best %s ms, worst %s ms (%d seconds)" %
          (sp["median_ms"], sp["min_ms"], sp["max_ms"], sp["seconds"]))
    for k, v in res["latency_at_half_rate"]["broker_gc"].items():
        if v:
            p("      %-26s broker GC: %d pauses, %.0f ms in all, longest %.0f ms; %d events over 10 ms, "
              "%d of them with a pause in flight" %
              (k, v["broker_gc_pauses"], v["broker_gc_pause_ms_total"], v["broker_gc_pause_ms_max"],
               v["events_over_10_ms"], v["events_over_10_ms_with_broker_gc_in_flight"]))
    p("  Redis commands/event    %10.4f sent (goal <= 0.5: %s); %.2f incl. inside Lua; Redis CPU %.1f us/event" %
      (res["redis_cmds_per_event"], mark(g["redis_cmds_le_0.5_per_event"]),
       res["redis_cmds_incl_lua_per_event"], res["redis_cpu_us_per_event"]))
    p("  CPU/event at max rate: riskgate %s us, redis-server %s us, broker %s us (pass-through: %s us + broker %s us)" %
      (res["cpu_us_per_event"], res["redis_cpu_us_per_event"], res["broker_cpu_us_per_event"],
       res["passthrough_cpu_us_per_event"], res["passthrough_broker_cpu_us_per_event"]))
    p("  riskgate RSS %.1f MB (peak %.1f MB)" % (res["rss_mb"], res["rss_peak_mb"]))
    p("  scaling (events/s, riskgate CPU us/event, Redis CPU us/event):")
    for s in res["scaling"]:
        p("    users %8d workers %d: %8.0f ev/s  %6s us  %6s us  rss %.0f MB" %
          (s["users"], s["workers"], s["eps"], s["cpu_us_per_event"], s["redis_cpu_us_per_event"], s["rss_mb"]))
    for pr in res["problems"]:
        p("  FAILED: " + pr)
    p("  load average start %s end %s" % (res["machine"]["loadavg_start"], res["machine"]["loadavg_end"]))
    p("  wrote %s.json and %s.png" % (prefix, prefix))


def soak(work, prefix):
    params = json.load(open(os.path.join(work, "params.json")))
    machine = json.load(open(os.path.join(work, "machine.json")))
    machine["loadavg_end"] = os.getloadavg()
    samples = []
    for line in open(os.path.join(work, "soak.samples")):
        t, rss, hwm, n = line.split()
        samples.append({"t_s": float(t), "rss_mb": int(rss) / 1024.0, "hwm_mb": int(hwm) / 1024.0,
                        "verdicts": int(n)})
    problems = []
    warm = params["warmup_s"]
    steady = [s for s in samples if s["t_s"] >= warm]
    flat = None
    first = last = None
    if len(steady) >= 3:
        k = len(steady) // 3
        first = sum(s["rss_mb"] for s in steady[:k]) / k
        last = sum(s["rss_mb"] for s in steady[-k:]) / k
        flat = abs(last - first) <= 0.05 * first
    else:
        problems.append("fewer than 3 samples after warm-up")
    want = params["events"]
    got = samples[-1]["verdicts"] if samples else 0
    fin = json.load(open(os.path.join(work, "soak.final.json")))
    if fin["verdicts"] < want:
        problems.append("%d verdicts, want %d" % (fin["verdicts"], want))
    res = {
        "status": "FAILED" if problems else "ok",
        "problems": problems,
        "date": params["stamp"],
        "rate": params["rate"], "seconds": params["seconds"], "users": params["users"],
        "events": want, "verdicts": fin["verdicts"],
        "warmup_s": warm,
        "rss_first_third_mb": round(first, 2) if first else None,
        "rss_last_third_mb": round(last, 2) if last else None,
        "rss_change_pct": round((last - first) * 100 / first, 2) if first else None,
        "rss_flat": flat,
        "rss_peak_mb": round(max(s["hwm_mb"] for s in samples), 1) if samples else None,
        "cpu_us_per_event": fin.get("cpu_us_per_event"),
        "verdicts_at_last_sample": got,
        "samples": samples,
        "params": params, "machine": machine,
        "commands": [l.rstrip("\n") for l in open(os.path.join(work, "commands.txt"))],
    }
    with open(prefix + ".json", "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot([s["t_s"] for s in samples], [s["rss_mb"] for s in samples], marker=".", label="VmRSS")
    ax.axvline(warm, ls="--", color="gray", lw=0.8)
    ax.text(warm, ax.get_ylim()[0], " warm-up", fontsize=8, va="bottom")
    ax.set_xlabel("seconds")
    ax.set_ylabel("riskgate RSS (MB)")
    ax.set_ylim(bottom=0)
    ax.set_title("soak %s: %d events/s for %d s, RSS %s (%+.1f%% last vs first third)" %
                 (params["stamp"], params["rate"], params["seconds"], "flat" if flat else "NOT flat",
                  res["rss_change_pct"] or 0), fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(prefix + ".png", dpi=90)
    print("soak: %s; RSS first third %.1f MB, last third %.1f MB (%+.2f%%): %s; wrote %s.json and .png" %
          (res["status"], first or 0, last or 0, res["rss_change_pct"] or 0,
           "flat" if flat else "NOT flat", prefix), file=sys.stderr)
    for pr in problems:
        print("soak: FAILED: " + pr, file=sys.stderr)
    return 1 if problems else 0


def probe(work, name):
    """One probe of bench/probe.sh: latency after the warm-up, CPU per event
    of riskgate, redis-server and the broker in the same window, broker GC;
    printed as one line and appended to probe.jsonl. Exit 1 when an event
    has no verdict."""
    meta = json.load(open(os.path.join(work, name + ".meta.json")))
    ev_tsv = os.path.join(work, name + ".events.tsv")
    vd_tsv = os.path.join(work, name + ".verdicts.tsv")
    j = joined(ev_tsv, vd_tsv)
    ev, decided = j[0], len(j[1])
    warm_s = (meta["t0_ms"] - min(ev.values())) / 1000.0 if ev else 0
    _, lat = join_latency(j, warm_s)
    n = sum(1 for t in ev.values() if meta["t0_ms"] <= t <= meta["t1_ms"])
    per = [round((b - a) / meta["clk_tck"] * 1e6 / max(n, 1), 1)
           for a, b in zip(meta["ticks0"], meta["ticks1"])]
    gc = gc_attribution(j, warm_s, gc_pauses(os.path.join(work, "kafka-gc.log")))
    ok = len(ev) == meta["events"] and decided == len(ev)
    res = {"name": name, "variant": meta["variant"], "round": meta["round"], "rate": meta["rate"],
           "status": "ok" if ok else "FAILED", "events": len(ev), "decided": decided,
           **pcts(lat), "cpu_us_per_event": {"riskgate": per[0], "redis": per[1], "broker": per[2]},
           "broker_gc": gc}
    with open(os.path.join(work, "probe.jsonl"), "a") as f:
        f.write(json.dumps(res) + "\n")
    print("probe %-14s %s  p50 %s  p99 %s  p99.9 %s  max %s ms (%d events) | CPU us/event riskgate %s "
          "redis %s broker %s | broker GC %d pauses, %d of %d events over 10 ms had one in flight" %
          (name, res["status"], res["p50_ms"], res["p99_ms"], res["p999_ms"], res["max_ms"], res["samples"],
           per[0], per[1], per[2], gc["broker_gc_pauses"] if gc else 0,
           gc["events_over_10_ms_with_broker_gc_in_flight"] if gc else 0,
           gc["events_over_10_ms"] if gc else 0), flush=True)
    return 0 if ok else 1


def probe_summary(work, cmd, env):
    rows = [json.loads(l) for l in open(os.path.join(work, "probe.jsonl"))]
    print("\nprobe summary (each variant: its rounds in order)")
    for v in dict.fromkeys(r["variant"] for r in rows):
        rs = [r for r in rows if r["variant"] == v]
        print("  %-14s p99 %s ms | p50 %s ms | riskgate CPU %s us/event | redis %s | broker %s" %
              (v, "/".join(str(r["p99_ms"]) for r in rs), "/".join(str(r["p50_ms"]) for r in rs),
               "/".join(str(r["cpu_us_per_event"]["riskgate"]) for r in rs),
               "/".join(str(r["cpu_us_per_event"]["redis"]) for r in rs),
               "/".join(str(r["cpu_us_per_event"]["broker"]) for r in rs)))
    print("reproduce: %s%s" % (env + " " if env else "", cmd.strip()))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "eps":
        print("%.1f" % eps_of(read_tsv(sys.argv[2])))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "bench":
        return bench(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 4 and sys.argv[1] == "probe":
        return probe(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 5 and sys.argv[1] == "probe-summary":
        return probe_summary(sys.argv[2], sys.argv[3], sys.argv[4])
    if len(sys.argv) == 4 and sys.argv[1] == "soak":
        return soak(sys.argv[2], sys.argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
