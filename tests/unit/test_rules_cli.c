/* test_rules_cli.c - `riskgate rules test|lint|bench` and the shipped rule pack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskgate/rules.h"
#include "../../src/rules/rules_int.h"

struct capture {
    char *out, *err;
    size_t out_len, err_len;
};

/* Run the CLI with argv (NULL-terminated) and capture both streams. */
static int run(struct capture *c, const char *const *args)
{
    char *argv[16];
    int argc = 0;
    while (args[argc] && argc < 15) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    FILE *out = open_memstream(&c->out, &c->out_len);
    FILE *err = open_memstream(&c->err, &c->err_len);
    assert_non_null(out);
    assert_non_null(err);
    int rc = rg_rules_cli_run(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return rc;
}

static void capture_free(struct capture *c)
{
    free(c->out);
    free(c->err);
    memset(c, 0, sizeof(*c));
}

static char g_dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/rg_cli_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/tests", g_dir);
    return mkdir(sub, 0700);
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd);
}

static void test_shipped_pack_passes(void **state)
{
    (void)state;
    struct capture c = {0};
    const char *args[] = {"rules", "test", "rules", NULL};
    int rc = run(&c, args);
    if (rc != 0)
        fprintf(stderr, "%s%s", c.out, c.err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(c.out, " passed, 0 failed\n"));
    assert_null(strstr(c.out, "FAIL "));
    assert_non_null(strstr(c.out, "PASS a device used by six accounts today is denied\n"));
    capture_free(&c);

    const char *lint[] = {"rules", "lint", "rules", NULL};
    assert_int_equal(run(&c, lint), 0);
    assert_non_null(strstr(c.out, "ok: "));
    assert_non_null(strstr(c.out, " shadow), 3 lists, version "));
    capture_free(&c);
}

static void test_failing_case_reports_differences(void **state)
{
    (void)state;
    write_file("r.yaml",
               "rules:\n"
               "  - {id: night, when: hour_of_day between 0 and 5, then: step_up}\n"
               "  - {id: big, when: amount > 100, then: deny}\n"
               "  - {id: watch, when: amount > 50, then: deny, mode: shadow}\n");
    write_file("tests/a.yaml",
               "cases:\n"
               "  - name: night by offset time\n"
               "    event: {amount: 1, currency: EUR, ts: '2024-05-01T03:30:00+02:00'}\n"
               "    expect: {decision: step_up, rules: [night], method: otp}\n"
               "  - name: day by epoch ms\n"
               "    event: {amount: 1, currency: EUR, ts: 1714572000000}\n"
               "    expect: {decision: allow, rules: []}\n"
               "  - name: wrong on purpose\n"
               "    event: {amount: 120, currency: EUR, ts: 1714572000000}\n"
               "    expect: {decision: step_up, rules: [big, night], shadow_rules: []}\n");
    struct capture c = {0};
    const char *args[] = {"rules", "test", g_dir, NULL};
    assert_int_equal(run(&c, args), 1);
    assert_non_null(strstr(c.out, "PASS night by offset time\n"));
    assert_non_null(strstr(c.out, "PASS day by epoch ms\n"));
    assert_non_null(strstr(c.out,
                           "FAIL wrong on purpose: expected decision step_up, got deny; "
                           "expected rules [big, night] got [big]; "
                           "expected shadow_rules [] got [watch]\n"));
    assert_non_null(strstr(c.out, "2 passed, 1 failed\n"));
    capture_free(&c);

    /* The same cases from another directory, both ways of saying it. */
    char cases[128];
    snprintf(cases, sizeof(cases), "%s/tests", g_dir);
    const char *by_cases[] = {"rules", "test", g_dir, "--cases", cases, NULL};
    assert_int_equal(run(&c, by_cases), 1);
    assert_non_null(strstr(c.out, "2 passed, 1 failed\n"));
    capture_free(&c);
    const char *by_rules[] = {"rules", "test", cases, "--rules", g_dir, NULL};
    assert_int_equal(run(&c, by_rules), 1);
    assert_non_null(strstr(c.out, "2 passed, 1 failed\n"));
    capture_free(&c);
}

static void test_case_file_errors(void **state)
{
    (void)state;
    write_file("r.yaml", "rules:\n  - {id: a, when: amount > 1, then: deny}\n");
    write_file("tests/a.yaml",
               "cases:\n"
               "  - name: typo in a feature\n"
               "    event: {amount: 2, currency: EUR, chanel: card}\n"
               "    features: {user.txn_cnt_1h: 3}\n"
               "    expect: {decision: deny}\n"
               "  - name: fine\n"
               "    event: {amount: 2, currency: EUR}\n"
               "    expect: {decision: deny, rules: [a]}\n");
    struct capture c = {0};
    const char *args[] = {"rules", "test", g_dir, NULL};
    assert_int_equal(run(&c, args), 1); /* load errors fail the run */
    char want[300];
    snprintf(want, sizeof(want),
             "%s/tests/a.yaml:4:16: error: unknown feature user.txn_cnt_1h "
             "(did you mean user.txn_count_1h?)\n", g_dir);
    assert_non_null(strstr(c.err, want));
    snprintf(want, sizeof(want),
             "%s/tests/a.yaml:3:39: error: unknown key 'chanel' in event (did you mean channel?)\n",
             g_dir);
    assert_non_null(strstr(c.err, want));
    assert_non_null(strstr(c.out, "PASS fine\n"));
    assert_non_null(strstr(c.out, "1 passed, 0 failed\n"));
    capture_free(&c);

    /* Rule load errors stop the run; lint reports them too. */
    write_file("r.yaml", "rules:\n  - {id: a, when: amount >, then: deny}\n");
    assert_int_equal(run(&c, args), 1);
    assert_non_null(strstr(c.err, "r.yaml:2:27: error: expression ends too early"));
    capture_free(&c);
    const char *lint[] = {"rules", "lint", g_dir, NULL};
    assert_int_equal(run(&c, lint), 1);
    assert_non_null(strstr(c.err, "1 problem(s)"));
    capture_free(&c);

    /* No case files. */
    write_file("r.yaml", "rules: []\n");
    char tests[128];
    snprintf(tests, sizeof(tests), "%s/tests/a.yaml", g_dir);
    unlink(tests);
    assert_int_equal(run(&c, args), 1);
    assert_non_null(strstr(c.err, "no case files in"));
    capture_free(&c);
}

static void test_bench_and_usage(void **state)
{
    (void)state;
    struct capture c = {0};
    const char *bench[] = {"rules", "bench", "--synthetic", "50", "--events", "3000", NULL};
    assert_int_equal(run(&c, bench), 0);
    assert_non_null(strstr(c.out, "rules bench: 50 rules, 3000 events"));
    assert_non_null(strstr(c.out, "reproduce: riskgate rules bench --synthetic 50 --events 3000"));
    capture_free(&c);
    const char *bad[] = {"rules", "frobnicate", NULL};
    assert_int_equal(run(&c, bad), 2);
    assert_non_null(strstr(c.err, "usage:"));
    capture_free(&c);
    const char *none[] = {"rules", NULL};
    assert_int_equal(run(&c, none), 2);
    capture_free(&c);
    const char *badn[] = {"rules", "bench", "--synthetic", "0", NULL};
    assert_int_equal(run(&c, badn), 2);
    capture_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_pack_passes),
        cmocka_unit_test_setup_teardown(test_failing_case_reports_differences, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_case_file_errors, setup_dir, teardown_dir),
        cmocka_unit_test(test_bench_and_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
