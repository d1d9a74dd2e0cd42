/* test_replay.c - `riskgate replay`: determinism, point-in-time features,
 * report figures against small cases computed by hand, malformed lines,
 * candidate comparison, and the detection metrics on hand-made scores.
 *
 * Every test writes its inputs into a fresh temp dir, runs the real entry
 * point rg_replay_main() and reads the outputs back with cJSON / plain
 * text parsing, so it checks what a user of the command would see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskgate/gen.h"
#include "riskgate/replay.h"
#include "test_util.h"

#define run(...) rg_test_run_cli(rg_replay_main, "replay", __VA_ARGS__)
#define read_file rg_test_slurp

#define B 1793491200000LL /* 2026-11-01T00:00:00Z */

/* cmocka's assert_float_equal works in float; these figures need double. */
#define assert_double_equal(a, b, eps) dbl_eq((a), (b), (eps), #a, __FILE__, __LINE__)
static void dbl_eq(double a, double b, double eps, const char *what, const char *file, int line)
{
    if (!(fabs(a - b) <= eps)) {
        print_error("%s: %.17g != %.17g (eps %g)\n", what, a, b, eps);
        _fail(file, line);
    }
}

static char g_dir[64];

static const char *P(const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", g_dir, name);
    return buf[k];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Run with stderr captured into P("stderr.txt"). */
static int run_capture(const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "replay";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    fflush(stderr);
    int saved = dup(2);
    int fd = open(P("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    close(fd);
    int rc = rg_replay_main(argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return rc;
}

static cJSON *read_json(const char *path)
{
    char *t = read_file(path, NULL);
    cJSON *o = cJSON_Parse(t);
    free(t);
    assert_non_null(o);
    return o;
}

static double num_at(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        cur = cJSON_GetObjectItemCaseSensitive(cur, k);
        if (!cur)
            fail_msg("no %s in report", path);
    }
    if (cJSON_IsNull(cur))
        return NAN;
    assert_true(cJSON_IsNumber(cur));
    return cur->valuedouble;
}

static const cJSON *find_by(const cJSON *arr, const char *key, const char *val)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);
        if (cJSON_IsString(v) && strcmp(v->valuestring, val) == 0)
            return it;
    }
    fail_msg("no %s=%s", key, val);
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/rg_replay_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void event(FILE *f, const char *id, const char *user, double amount, long long ts_off)
{
    fprintf(f,
            "{\"event_id\":\"%s\",\"user_id\":\"%s\",\"amount\":%.2f,\"currency\":\"EUR\","
            "\"ts\":%lld,\"merchant_id\":\"m1\",\"device_id\":\"d-1\"}\n",
            id, user, amount, B + ts_off);
}

static void label(FILE *f, const char *id, const char *user, const char *lab, const char *sc,
                  long long ts_off)
{
    fprintf(f, "{\"type\":\"label\",\"event_id\":\"%s\",\"user_id\":\"%s\",\"label\":\"%s\",",
            id, user, lab);
    if (sc)
        fprintf(f, "\"scenario\":\"%s\",", sc);
    fprintf(f, "\"ts\":%lld}\n", B + ts_off);
}

/* The hand-computed case: 10 events, 3 fraud (e1, e2: scenario ato on
 * user u1; e3: scenario farm), rule big (amount >= 100, step_up) hits e2,
 * e3 (fraud) and e4 (legit, user u3). */
static void hand_case(void)
{
    FILE *f = fopen(P("events.jsonl"), "w");
    assert_non_null(f);
    event(f, "e0", "u0", 1.00, 0);
    event(f, "e1", "u1", 1.00, 1000);
    event(f, "e3", "u2", 120.00, 2000);
    event(f, "e4", "u3", 200.00, 3000);
    event(f, "e5", "u4", 1.00, 4000);
    event(f, "e6", "u5", 1.00, 5000);
    event(f, "e7", "u6", 1.00, 6000);
    event(f, "e8", "u7", 1.00, 7000);
    event(f, "e9", "u8", 1.00, 8000);
    event(f, "e2", "u1", 150.00, 61000);
    fclose(f);
    f = fopen(P("feedback.jsonl"), "w");
    assert_non_null(f);
    label(f, "e1", "u1", "fraud", "ato", 3600000);
    label(f, "e2", "u1", "fraud", "ato", 3600001);
    label(f, "e3", "u2", "fraud", "farm", 3600002);
    label(f, "e4", "u3", "legit", NULL, 3600003);
    fclose(f);
    mkdir(P("rules"), 0700);
    write_file(P("rules/r.yaml"), "rules:\n"
                                  "  - id: big\n"
                                  "    when: amount >= 100\n"
                                  "    then: step_up\n"
                                  "  - id: never\n"
                                  "    when: amount > 1000000\n"
                                  "    then: deny\n");
}

static void test_report_hand_figures(void **state)
{
    (void)state;
    hand_case();
    assert_int_equal(run("--events", P("events.jsonl"), "--feedback", P("feedback.jsonl"),
                         "--rules", P("rules"), "--out", P("v.jsonl"), "--report", P("rep"),
                         NULL),
                     0);
    cJSON *r = read_json(P("rep/report.json"));
    assert_int_equal((int)num_at(r, "input.events_decided"), 10);
    assert_int_equal((int)num_at(r, "input.fraud_events"), 3);
    assert_int_equal((int)num_at(r, "input.legit_events"), 7);
    assert_int_equal((int)num_at(r, "input.labels"), 4);
    assert_int_equal((int)num_at(r, "current.verdicts.allow"), 7);
    assert_int_equal((int)num_at(r, "current.verdicts.step_up"), 3);
    assert_int_equal((int)num_at(r, "current.verdicts.deny"), 0);
    assert_double_equal(num_at(r, "current.verdicts.friction"), 1.0 / 7, 1e-12);
    assert_double_equal(num_at(r, "current.verdicts.fraud_caught_share"), 2.0 / 3, 1e-12);

    const cJSON *rules = cJSON_GetObjectItem(r, "rules");
    const cJSON *big = find_by(rules, "id", "big");
    assert_int_equal((int)num_at(big, "hits"), 3);
    assert_int_equal((int)num_at(big, "fraud_hits"), 2);
    assert_double_equal(num_at(big, "precision"), 2.0 / 3, 1e-12);
    assert_double_equal(num_at(big, "recall"), 2.0 / 3, 1e-12);
    assert_double_equal(num_at(big, "fraud_amount_caught.EUR"), 270.0, 1e-9);
    assert_int_equal((int)num_at(big, "good_users_flagged"), 1);
    const cJSON *never = find_by(rules, "id", "never");
    assert_int_equal((int)num_at(never, "hits"), 0);
    assert_true(isnan(num_at(never, "precision")));

    const cJSON *sc = cJSON_GetObjectItem(r, "scenarios");
    const cJSON *ato = find_by(sc, "scenario", "ato");
    assert_int_equal((int)num_at(ato, "events"), 2);
    assert_int_equal((int)num_at(ato, "caught"), 1);
    assert_int_equal((int)num_at(ato, "missed"), 1);
    assert_double_equal(num_at(ato, "median_time_to_first_catch_s"), 60.0, 1e-9);
    const cJSON *farm = find_by(sc, "scenario", "farm");
    assert_int_equal((int)num_at(farm, "caught"), 1);
    assert_double_equal(num_at(farm, "median_time_to_first_catch_s"), 0.0, 1e-9);
    /* no model: no curve, no detection metrics */
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "detection"),
                                                  "available")));
    cJSON_Delete(r);

    /* verdicts: one per event in input order, deterministic time fields */
    char *v = read_file(P("v.jsonl"), NULL);
    int lines = 0;
    for (char *p = v; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 10);
    assert_non_null(strstr(v, "\"event_id\":\"e0\""));
    assert_non_null(strstr(v, "\"latency_us\":0,\"decided_at\":\"2026-11-01T00:00:00.000Z\""));
    assert_null(strstr(v, "\"latency_us\":1"));
    free(v);
    char *html = read_file(P("rep/report.html"), NULL);
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "66.67%")); /* the rule's precision */
    free(html);
}

/* A fraud label arriving between two events of the same user changes the
 * second event's features only; a label arriving in the same millisecond
 * as an event is not visible to that event (events first). */
static void test_point_in_time(void **state)
{
    (void)state;
    FILE *f = fopen(P("events.jsonl"), "w");
    assert_non_null(f);
    event(f, "a1", "u1", 5.00, 0);
    event(f, "a2", "u1", 5.00, 60000);
    event(f, "a3", "u1", 5.00, 120000);
    event(f, "a4", "u1", 5.00, 180000);
    fclose(f);
    f = fopen(P("feedback.jsonl"), "w");
    assert_non_null(f);
    label(f, "a1", "u1", "fraud", "ato", 30000);  /* between a1 and a2 */
    label(f, "a2", "u1", "fraud", "ato", 120000); /* same ms as a3 */
    fclose(f);
    assert_int_equal(run("--events", P("events.jsonl"), "--feedback", P("feedback.jsonl"),
                         "--export-features", P("f.csv"), NULL),
                     0);
    char *csv = read_file(P("f.csv"), NULL);
    char *save = NULL, *line = strtok_r(csv, "\n", &save);
    /* header: find the columns */
    int col_fl = -1, col_label = -1, col_lts = -1, col_sc = -1, k = 0;
    char hdr[4096];
    snprintf(hdr, sizeof(hdr), "%s", line);
    assert_true(strncmp(hdr, "event_id,event_ts_ms,amount,", 28) == 0);
    for (char *s2 = NULL, *c = strtok_r(hdr, ",", &s2); c; c = strtok_r(NULL, ",", &s2), k++) {
        if (!strcmp(c, "user.fraud_labels_90d"))
            col_fl = k;
        if (!strcmp(c, "label"))
            col_label = k;
        if (!strcmp(c, "label_ts_ms"))
            col_lts = k;
        if (!strcmp(c, "scenario"))
            col_sc = k;
    }
    assert_true(col_fl > 0 && col_label > 0 && col_lts == col_label + 1 && col_sc == k - 1);
    const char *want_fl[4] = { "0", "1", "1", "2" };
    const char *want_label[4] = { "1", "1", "", "" };
    long long want_lts[4] = { B + 30000, B + 120000, 0, 0 };
    for (int row = 0; row < 4; row++) {
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        /* split keeping empty cells */
        char cells[64][64];
        int n = 0;
        const char *p = line;
        while (n < 64) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            snprintf(cells[n], sizeof(cells[n]), "%.*s", (int)len, p);
            n++;
            if (!e)
                break;
            p = e + 1;
        }
        assert_int_equal(n, k);
        char id[8];
        snprintf(id, sizeof(id), "a%d", row + 1);
        assert_string_equal(cells[0], id);
        /* the first event: no fraud label yet (0, or missing) */
        if (row == 0)
            assert_true(!strcmp(cells[col_fl], "0") || !strcmp(cells[col_fl], ""));
        else
            assert_string_equal(cells[col_fl], want_fl[row]);
        assert_string_equal(cells[col_label], want_label[row]);
        if (want_lts[row])
            assert_int_equal(atoll(cells[col_lts]), want_lts[row]);
        else
            assert_string_equal(cells[col_lts], "");
        assert_string_equal(cells[col_sc], row < 2 ? "ato" : "");
    }
    assert_null(strtok_r(NULL, "\n", &save));
    free(csv);
}

/* Decisions are made later than profiles (up to RG_RP_BATCH events at
 * once, across feedback records) and must still use each event's own
 * features: a1 is decided only after the label on it was applied, yet it
 * is allowed (it had no label when it happened) while a2 is denied; the
 * CSV rows and verdicts stay in event order with each event's amount.
 * The profile steps, and so late_events, are as without deferral: lateA
 * is older than the first 256-event step it follows, x2 older than an
 * event in the step a feedback record closed. */
static void test_deferred_decisions(void **state)
{
    (void)state;
    FILE *f = fopen(P("events.jsonl"), "w"), *fb = fopen(P("feedback.jsonl"), "w");
    assert_true(f && fb);
    char id[16], user[16];
    event(f, "a1", "u1", 5.00, 0);
    label(fb, "a1", "u1", "fraud", "ato", 500);
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "b%d", i);
        snprintf(user, sizeof(user), "u%d", 2 + i % 40);
        event(f, id, user, 10.0 + i, 1000 + 10 * i);
        if (i == 255)
            event(f, "lateA", "u2", 400.00, 3545); /* the first step (b0..b255) ends at 3550 */
    }
    event(f, "x1", "u3", 401.00, 3980); /* before the settings record (3985) */
    fprintf(fb, "{\"type\":\"settings\",\"user_id\":\"u4\",\"step_up_method\":\"otp\","
                "\"ts\":%lld}\n", B + 3985);
    event(f, "x2", "u3", 402.00, 3987); /* after it, older than b299 (3990) */
    event(f, "a2", "u1", 5.00, 5000);
    fclose(f);
    fclose(fb);
    mkdir(P("rules"), 0700);
    write_file(P("rules/r.yaml"), "rules:\n"
                                  "  - id: labelled\n"
                                  "    when: user.fraud_labels_90d >= 1\n"
                                  "    then: deny\n");
    assert_int_equal(run_capture("--events", P("events.jsonl"), "--feedback",
                                 P("feedback.jsonl"), "--rules", P("rules"), "--out",
                                 P("v.jsonl"), "--report", P("rep"), "--export-features",
                                 P("f.csv"), NULL),
                     0);
    cJSON *r = read_json(P("rep/report.json"));
    assert_double_equal(num_at(r, "input.events_decided"), 305, 0);
    assert_double_equal(num_at(r, "input.late_events"), 2, 0);
    cJSON_Delete(r);

    /* the same order in both files: a1, b0..b255, lateA, b256..b299, x1, x2, a2 */
    char want_id[305][16];
    double want_amount[305];
    int n = 0;
    snprintf(want_id[n], 16, "a1");
    want_amount[n++] = 5;
    for (int i = 0; i < 300; i++) {
        snprintf(want_id[n], 16, "b%d", i);
        want_amount[n++] = 10.0 + i;
        if (i == 255) {
            snprintf(want_id[n], 16, "lateA");
            want_amount[n++] = 400;
        }
    }
    snprintf(want_id[n], 16, "x1");
    want_amount[n++] = 401;
    snprintf(want_id[n], 16, "x2");
    want_amount[n++] = 402;
    snprintf(want_id[n], 16, "a2");
    want_amount[n++] = 5;

    char *v = read_file(P("v.jsonl"), NULL);
    int k = 0;
    for (char *save = NULL, *line = strtok_r(v, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), k++) {
        assert_true(k < n);
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        assert_string_equal(cJSON_GetObjectItem(o, "event_id")->valuestring, want_id[k]);
        const char *dec = cJSON_GetObjectItem(o, "decision")->valuestring;
        assert_string_equal(dec, k == n - 1 ? "deny" : "allow");
        cJSON_Delete(o);
    }
    assert_int_equal(k, n);
    free(v);

    char *csv = read_file(P("f.csv"), NULL);
    char *save = NULL, *line = strtok_r(csv, "\n", &save);
    assert_true(strncmp(line, "event_id,event_ts_ms,amount,", 28) == 0);
    for (k = 0; (line = strtok_r(NULL, "\n", &save)); k++) {
        assert_true(k < n);
        char cid[16];
        double amount = -1;
        assert_int_equal(sscanf(line, "%15[^,],%*[^,],%lf,", cid, &amount), 2);
        assert_string_equal(cid, want_id[k]);
        assert_double_equal(amount, want_amount[k], 0);
    }
    assert_int_equal(k, n);
    free(csv);
}

static int gen_small(void)
{
    char *argv[] = { "gen", "--out", (char *)P("g.jsonl"), "--feedback-out",
                     (char *)P("gf.jsonl"), "--count", "4000", "--seed", "7",
                     "--fraud-share", "0.05", "--malformed", "0.01", NULL };
    return rg_gen_main((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv);
}

/* Two runs over the same input give byte-identical verdicts, report JSON,
 * report HTML and training CSV; and the recommended step_up_at keeps the
 * good events at or above it within the friction budget. */
static void test_determinism(void **state)
{
    (void)state;
    assert_int_equal(gen_small(), 0);
    mkdir(P("rules"), 0700);
    write_file(P("rules/r.yaml"), "rules:\n"
                                  "  - id: gift\n"
                                  "    when: merchant_category == 'gift_card' and amount >= 25\n"
                                  "    then: step_up\n"
                                  "  - id: shadow_fast\n"
                                  "    when: user.txn_count_1h > 5\n"
                                  "    then: deny\n"
                                  "    mode: shadow\n");
    for (int k = 0; k < 2; k++) {
        char out[16], rep[16], csv[16];
        snprintf(out, sizeof(out), "v%d.jsonl", k);
        snprintf(rep, sizeof(rep), "rep%d", k);
        snprintf(csv, sizeof(csv), "f%d.csv", k);
        assert_int_equal(run_capture("--events", P("g.jsonl"), "--feedback", P("gf.jsonl"),
                                     "--rules", P("rules"), "--model",
                                     "tests/data/model/gbdt_small.json", "--out", P(out),
                                     "--report", P(rep), "--export-features", P(csv), NULL),
                         0);
    }
    const char *pairs[4][2] = { { "v0.jsonl", "v1.jsonl" },
                                { "rep0/report.json", "rep1/report.json" },
                                { "rep0/report.html", "rep1/report.html" },
                                { "f0.csv", "f1.csv" } };
    for (int i = 0; i < 4; i++) {
        size_t la, lb;
        char *a = read_file(P(pairs[i][0]), &la), *b = read_file(P(pairs[i][1]), &lb);
        assert_true(la > 100);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
    cJSON *r = read_json(P("rep0/report.json"));
    double rejected = num_at(r, "input.events_rejected");
    assert_true(rejected > 0);
    assert_double_equal(num_at(r, "input.events_decided") + rejected, 4000, 0);
    const cJSON *sf = find_by(cJSON_GetObjectItem(r, "rules"), "id", "shadow_fast");
    assert_true(num_at(sf, "hits") > 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(sf, "shadow")));
    /* a shadow rule never decides: its flagged events are not in the mix */
    assert_true(num_at(find_by(cJSON_GetObjectItem(r, "rules"), "id", "gift"), "hits") > 0);
    double step_up_at = num_at(r, "threshold_curve.recommended.step_up_at");
    double auc = num_at(r, "detection.auc_roc");
    assert_true(auc >= 0 && auc <= 1);
    /* Check the recommendation against the verdict file: scores of good
     * events (not labelled fraud) at or above step_up_at <= 1%. Verdicts
     * carry scores rounded to 6 decimals, so a group of tied scores right
     * at the threshold may print on either side of it: count with a
     * half-unit margin both ways and require the report's exact figure to
     * lie between the two counts. */
    char *lab = read_file(P("gf.jsonl"), NULL);
    char *v = read_file(P("v0.jsonl"), NULL);
    size_t good = 0, good_above = 0, good_near = 0;
    for (char *save = NULL, *line = strtok_r(v, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        const char *id = cJSON_GetObjectItem(o, "event_id")->valuestring;
        double s = cJSON_GetObjectItem(o, "score")->valuedouble;
        char pat[200];
        snprintf(pat, sizeof(pat), "\"event_id\":\"%s\",", id);
        const char *hit = strstr(lab, pat);
        bool fraud = hit && strncmp(strstr(hit, "\"label\":"), "\"label\":\"fraud\"", 15) == 0;
        if (!fraud) {
            good++;
            good_above += s >= step_up_at + 5e-7;
            good_near += s >= step_up_at - 5e-7;
        }
        cJSON_Delete(o);
    }
    assert_true(good > 1000);
    assert_true((double)good_above <= 0.01 * (double)good);
    double fr = num_at(r, "threshold_curve.recommended.friction_at_step_up");
    assert_true(fr <= 0.01);
    assert_true(fr >= (double)good_above / (double)good - 1e-12);
    assert_true(fr <= (double)good_near / (double)good + 1e-12);
    free(lab);
    free(v);
    cJSON_Delete(r);
}

/* Malformed lines are reported with their line numbers, counted, and the
 * run goes on. */
static void test_malformed_lines(void **state)
{
    (void)state;
    FILE *f = fopen(P("events.jsonl"), "w");
    assert_non_null(f);
    event(f, "ok1", "u1", 1.00, 0);
    fputs("{\"event_id\":\"bad2\",\"user_id\":\"u1\"\n", f);               /* line 2 */
    event(f, "ok3", "u1", 1.00, 1000);
    fputs("{\"event_id\":\"bad4\",\"user_id\":\"u1\",\"amount\":1}\n", f); /* line 4 */
    fputs("\n", f);                                                       /* blank: skipped */
    event(f, "ok6", "u2", 1.00, 2000);
    fputs("not json at all\n", f);                                        /* line 7 */
    event(f, "ok8", "u2", 1.00, 3000);
    fclose(f);
    f = fopen(P("feedback.jsonl"), "w");
    assert_non_null(f);
    label(f, "ok1", "u1", "fraud", NULL, 500);
    fputs("{\"type\":\"label\",\"event_id\":\"ok3\"}\n", f);       /* line 2: no ts */
    fputs("{\"type\":\"label\",\"event_id\":\"ok3\",\"user_id\":\"u1\",\"label\":\"maybe\","
          "\"ts\":1793491201500}\n", f);                              /* line 3: bad label */
    fclose(f);
    assert_int_equal(run_capture("--events", P("events.jsonl"), "--feedback",
                                 P("feedback.jsonl"), "--out", P("v.jsonl"), "--report",
                                 P("rep"), NULL),
                     0);
    char *err = read_file(P("stderr.txt"), NULL);
    char pat[300];
    for (int ln = 2; ln <= 7; ln++) {
        snprintf(pat, sizeof(pat), "%s:%d: skipped", P("events.jsonl"), ln);
        if (ln == 2 || ln == 4 || ln == 7)
            assert_non_null(strstr(err, pat));
        else
            assert_null(strstr(err, pat));
    }
    snprintf(pat, sizeof(pat), "%s:2: skipped", P("feedback.jsonl"));
    assert_non_null(strstr(err, pat));
    snprintf(pat, sizeof(pat), "%s:3: skipped", P("feedback.jsonl"));
    assert_non_null(strstr(err, pat));
    free(err);
    cJSON *r = read_json(P("rep/report.json"));
    assert_int_equal((int)num_at(r, "input.event_lines"), 7);
    assert_int_equal((int)num_at(r, "input.events_rejected"), 3);
    assert_int_equal((int)num_at(r, "input.events_decided"), 4);
    assert_int_equal((int)num_at(r, "input.rejected_by_reason.invalid_json"), 2);
    assert_int_equal((int)num_at(r, "input.rejected_by_reason.missing_field"), 1);
    assert_int_equal((int)num_at(r, "input.feedback_lines"), 3);
    assert_int_equal((int)num_at(r, "input.feedback_rejected"), 2);
    assert_int_equal((int)num_at(r, "input.fraud_events"), 1);
    cJSON_Delete(r);
    char *v = read_file(P("v.jsonl"), NULL);
    assert_non_null(strstr(v, "\"event_id\":\"ok8\""));
    assert_null(strstr(v, "bad"));
    free(v);
}

static void test_candidate_changes(void **state)
{
    (void)state;
    hand_case();
    mkdir(P("cand"), 0700);
    /* candidate: step_up from 150 (e3 at 120 goes back to allow), deny from
     * 200 (e4 goes from step_up to deny) */
    write_file(P("cand/r.yaml"), "rules:\n"
                                 "  - id: big\n"
                                 "    when: amount >= 150\n"
                                 "    then: step_up\n"
                                 "  - id: huge\n"
                                 "    when: amount >= 200\n"
                                 "    then: deny\n");
    assert_int_equal(run("--events", P("events.jsonl"), "--feedback", P("feedback.jsonl"),
                         "--rules", P("rules"), "--candidate-rules", P("cand"), "--report",
                         P("rep"), NULL),
                     0);
    cJSON *r = read_json(P("rep/report.json"));
    const cJSON *c = cJSON_GetObjectItem(r, "candidate");
    assert_non_null(c);
    assert_int_equal((int)num_at(c, "changed"), 2);
    assert_int_equal((int)num_at(c, "net_fraud_caught"), -1);
    assert_int_equal((int)num_at(c, "net_legit_flagged"), 0);
    assert_int_equal((int)num_at(c, "verdicts.step_up"), 1);
    assert_int_equal((int)num_at(c, "verdicts.deny"), 1);
    assert_int_equal((int)num_at(c, "verdicts.allow"), 8);
    const cJSON *s = cJSON_GetObjectItem(c, "sample");
    assert_int_equal(cJSON_GetArraySize(s), 2);
    const cJSON *s0 = cJSON_GetArrayItem(s, 0), *s1 = cJSON_GetArrayItem(s, 1);
    assert_string_equal(cJSON_GetObjectItem(s0, "event_id")->valuestring, "e3");
    assert_string_equal(cJSON_GetObjectItem(s0, "from")->valuestring, "step_up");
    assert_string_equal(cJSON_GetObjectItem(s0, "to")->valuestring, "allow");
    assert_string_equal(cJSON_GetObjectItem(s0, "label")->valuestring, "fraud");
    assert_string_equal(cJSON_GetObjectItem(s1, "event_id")->valuestring, "e4");
    assert_string_equal(cJSON_GetObjectItem(s1, "to")->valuestring, "deny");
    assert_string_equal(cJSON_GetObjectItem(s1, "label")->valuestring, "legit");
    /* the current side is unchanged by the candidate */
    assert_int_equal((int)num_at(r, "current.verdicts.step_up"), 3);
    cJSON_Delete(r);

    /* the same rules as candidate: nothing changes */
    assert_int_equal(run("--events", P("events.jsonl"), "--feedback", P("feedback.jsonl"),
                         "--rules", P("rules"), "--candidate-rules", P("rules"), "--report",
                         P("rep2"), NULL),
                     0);
    r = read_json(P("rep2/report.json"));
    assert_int_equal((int)num_at(r, "candidate.changed"), 0);
    cJSON_Delete(r);
}

/* Ranking figures by hand with tests/data/replay/stump.json (one split:
 * amount < 50.5 scores 0.1357, else 0.8643). Day 1: 10 users, 4 high
 * (3 fraud); day 2: 150 users, 130 low first, then 20 high (15 fraud).
 * fraud 18, legit 142 of which 6 score high. */
static void test_model_figures_by_hand(void **state)
{
    (void)state;
    FILE *f = fopen(P("events.jsonl"), "w"), *fb = fopen(P("feedback.jsonl"), "w");
    assert_non_null(f);
    assert_non_null(fb);
    char id[16], user[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        snprintf(user, sizeof(user), "d1u%d", i);
        event(f, id, user, i < 4 ? 100.0 : 1.0, i * 1000);
    }
    for (int i = 0; i < 150; i++) {
        snprintf(id, sizeof(id), "b%d", i);
        snprintf(user, sizeof(user), "d2u%03d", i);
        event(f, id, user, i >= 130 ? 100.0 : 1.0, 86400000LL + i * 1000);
    }
    fclose(f);
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        snprintf(user, sizeof(user), "d1u%d", i);
        label(fb, id, user, "fraud", "s", 2 * 86400000LL + i);
    }
    label(fb, "a3", "d1u3", "legit", NULL, 2 * 86400000LL + 5);
    for (int i = 130; i < 145; i++) {
        snprintf(id, sizeof(id), "b%d", i);
        snprintf(user, sizeof(user), "d2u%03d", i);
        label(fb, id, user, "fraud", "s", 2 * 86400000LL + 10 + i);
    }
    fclose(fb);
    const char *model = "tests/data/replay/stump.json";
    assert_int_equal(run("--events", P("events.jsonl"), "--feedback", P("feedback.jsonl"),
                         "--model", model, "--friction-budget", "0.05", "--report", P("rep"),
                         NULL),
                     0);
    cJSON *r = read_json(P("rep/report.json"));
    assert_int_equal((int)num_at(r, "input.fraud_events"), 18);
    assert_int_equal((int)num_at(r, "input.legit_events"), 142);
    assert_int_equal((int)num_at(r, "current.verdicts.step_up"), 24);
    assert_double_equal(num_at(r, "current.verdicts.friction"), 6.0 / 142, 1e-12);
    assert_double_equal(num_at(r, "current.verdicts.fraud_caught_share"), 1.0, 1e-12);
    assert_double_equal(num_at(r, "detection.auc_roc"), 139.0 / 142, 1e-12);
    assert_double_equal(num_at(r, "detection.average_precision"), 0.75, 1e-12);
    assert_double_equal(num_at(r, "detection.precision_top_users_per_day"), 18.0 / 110, 1e-12);
    const cJSON *days = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "detection"), "days");
    assert_int_equal(cJSON_GetArraySize(days), 2);
    const cJSON *d1 = find_by(days, "day", "2026-11-01"), *d2 = find_by(days, "day", "2026-11-02");
    assert_int_equal((int)num_at(d1, "top"), 10);
    assert_double_equal(num_at(d1, "precision"), 0.3, 1e-12);
    assert_int_equal((int)num_at(d2, "users"), 150);
    assert_int_equal((int)num_at(d2, "top"), 100);
    assert_int_equal((int)num_at(d2, "fraud_users_in_top"), 15);
    /* budget 5%: 7 of 142 legit may be flagged; the 6 high ones fit, the
     * low ones do not: step_up_at is just above the low score */
    double lo = num_at(r, "threshold_curve.recommended.step_up_at");
    assert_true(lo > 0.1356 && lo < 0.1357);
    assert_double_equal(num_at(r, "threshold_curve.recommended.friction_at_step_up"), 6.0 / 142,
                        1e-12);
    assert_double_equal(num_at(r, "threshold_curve.recommended.caught_at_step_up"), 1.0, 1e-12);
    /* precision at the only threshold above it is 18/24 < 0.9: no deny_at */
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r, "threshold_curve"), "recommended"),
        "deny_found")));
    assert_double_equal(num_at(r, "threshold_curve.recommended.deny_at"), 1.0, 0);
    const cJSON *sc = find_by(cJSON_GetObjectItem(r, "scenarios"), "scenario", "s");
    assert_int_equal((int)num_at(sc, "events"), 18);
    assert_int_equal((int)num_at(sc, "caught"), 18);
    cJSON_Delete(r);

    /* budget 1%: only 1 legit may be flagged; even the high score flags 6 */
    assert_int_equal(run("--events", P("events.jsonl"), "--feedback", P("feedback.jsonl"),
                         "--model", model, "--report", P("rep1"), NULL),
                     0);
    r = read_json(P("rep1/report.json"));
    double hi = num_at(r, "threshold_curve.recommended.step_up_at");
    assert_true(hi > 0.8643 && hi < 0.8644);
    assert_double_equal(num_at(r, "threshold_curve.recommended.friction_at_step_up"), 0, 0);
    cJSON_Delete(r);
}

static void test_auc_ap_by_hand(void **state)
{
    (void)state;
    /* sklearn's documented example: AUC 0.75, AP 0.8333 */
    double s[] = { 0.1, 0.4, 0.35, 0.8 };
    int8_t y[] = { 0, 0, 1, 1 };
    assert_double_equal(rg_replay_auc(s, y, 4), 0.75, 1e-12);
    assert_double_equal(rg_replay_avg_precision(s, y, 4), (1.0 + 2.0 / 3) / 2, 1e-12);
    /* ties: pairs (0.5,0.5) = 1/2, others 1 -> 3.5 / 4 */
    double t[] = { 0.5, 0.5, 0.2, 0.9 };
    int8_t ty[] = { 1, 0, 0, 1 };
    assert_double_equal(rg_replay_auc(t, ty, 4), 0.875, 1e-12);
    /* AP: thresholds 0.9 (P=1, R=.5), 0.5 (P=2/3, R=1) -> .5 + .5*2/3 */
    assert_double_equal(rg_replay_avg_precision(t, ty, 4), 0.5 + 0.5 * 2.0 / 3, 1e-12);
    /* one class only: undefined */
    int8_t one[] = { 1, 1, 1, 1 };
    assert_true(isnan(rg_replay_auc(s, one, 4)));
    assert_true(isnan(rg_replay_avg_precision(s, one, 4)));
    /* labels other than 0/1 are skipped */
    int8_t skip[] = { 0, -1, 1, 1 };
    assert_double_equal(rg_replay_auc(s, skip, 4), 1.0, 1e-12);
}

static void test_usage_errors(void **state)
{
    (void)state;
    assert_int_equal(run_capture("--feedback", "x", NULL), 2);
    assert_int_equal(run_capture("--events", P("none.jsonl"), "--bogus", NULL), 2);
    assert_int_equal(run_capture("--events", P("none.jsonl"), "--friction-budget", "2", NULL), 2);
    assert_int_equal(run_capture("--events", P("none.jsonl"), NULL), 1);
    write_file(P("e.jsonl"), "");
    assert_int_equal(run_capture("--events", P("e.jsonl"), "--model", P("nomodel.json"), NULL),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_report_hand_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_point_in_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_candidate_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_figures_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auc_ap_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
