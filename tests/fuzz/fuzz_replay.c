/*
 * fuzz_replay.c - untrusted bytes as the two input files of `riskgate
 * replay`: the bytes before the first NUL are the events file, the rest
 * the feedback file. Every output is requested (verdicts, report, CSV).
 * Invariants: no crash; the run succeeds (malformed lines are skipped, not
 * fatal); report.json is valid JSON whose counts add up (decided +
 * rejected = event lines).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "riskgate/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void cleanup(void)
{
    static const char *const files[] = { "e.jsonl", "f.jsonl", "v.jsonl", "f.csv",
                                         "rep/report.json", "rep/report.html", "rep" };
    char p[160];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        if (unlink(p) != 0)
            rmdir(p);
    }
    rmdir(dir);
}

static void put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

static double count(const cJSON *in, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, k);
    if (!cJSON_IsNumber(v))
        abort();
    return v->valuedouble;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/rg_fuzz_replay_XXXXXX");
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup);
        /* the replay reports every skipped line on stderr; keep runs quiet */
        if (!freopen("/dev/null", "w", stderr))
            abort();
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t ne = nul ? (size_t)(nul - data) : size;
    char ev[128], fb[128], out[128], rep[128], csv[128], rj[160];
    snprintf(ev, sizeof(ev), "%s/e.jsonl", dir);
    snprintf(fb, sizeof(fb), "%s/f.jsonl", dir);
    snprintf(out, sizeof(out), "%s/v.jsonl", dir);
    snprintf(rep, sizeof(rep), "%s/rep", dir);
    snprintf(csv, sizeof(csv), "%s/f.csv", dir);
    snprintf(rj, sizeof(rj), "%s/report.json", rep);
    put(ev, data, ne);
    put(fb, nul ? nul + 1 : data, nul ? size - ne - 1 : 0);
    char *argv[] = { "replay", "--events", ev, "--feedback", fb, "--out", out, "--report",
                     rep, "--export-features", csv, NULL };
    if (rg_replay_main((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) != 0)
        abort();
    FILE *f = fopen(rj, "rb");
    if (!f)
        abort();
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *r = cJSON_Parse(buf);
    const cJSON *in = r ? cJSON_GetObjectItemCaseSensitive(r, "input") : NULL;
    if (!in || count(in, "events_decided") + count(in, "events_rejected") !=
                   count(in, "event_lines"))
        abort();
    cJSON_Delete(r);
    return 0;
}
