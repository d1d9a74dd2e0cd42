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
    assert_non_null(strstr(c.out, " shadow), 4 lists, version "));
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


/* The rules of the history tests: a burst rule on a count, a rule on fraud
 * labels, and a policy whose step-ups name a method. */
static const char *const hist_rules =
    "policy:\n"
    "  escalation: {escalate_method_after_failed: 0, deny_after_failed_step_ups: 0}\n"
    "rules:\n"
    "  - {id: burst, when: user.txn_count_1h >= 3, then: deny}\n"
    "  - {id: labelled, when: user.fraud_labels_90d >= 1, then: step_up}\n"
    "  - {id: big, when: amount > 100, then: step_up}\n";

static void test_history_changes_decision(void **state)
{
    (void)state;
    write_file("r.yaml", hist_rules);
    write_file("tests/a.yaml",
               "cases:\n"
               "  - name: alone\n"
               "    event: {amount: 2, ts: '2024-05-01T10:30:00Z'}\n"
               "    expect: {decision: allow, rules: []}\n"
               "  - name: after three in the hour\n"
               "    history:\n"
               "      - {amount: 1, ts: '2024-05-01T10:20:00Z'}\n" /* out of order on purpose */
               "      - {amount: 1, ts: '2024-05-01T10:00:00Z'}\n"
               "      - {amount: 1, ts: '2024-05-01T10:10:00Z'}\n"
               "    event: {amount: 2, ts: '2024-05-01T10:30:00Z'}\n"
               "    expect: {decision: deny, rules: [burst]}\n"
               "  - name: two in the hour and one before it\n"
               "    history:\n"
               "      - {amount: 1, ts: '2024-05-01T09:20:00Z'}\n"
               "      - {amount: 1, ts: '2024-05-01T10:00:00Z'}\n"
               "      - {amount: 1, ts: '2024-05-01T10:10:00Z'}\n"
               "    event: {amount: 2, ts: '2024-05-01T10:30:00Z'}\n"
               "    expect: {decision: allow, rules: []}\n"
               "  - name: an explicit feature wins over the history\n"
               "    history:\n"
               "      - {amount: 1, ts: '2024-05-01T10:00:00Z'}\n"
               "      - {amount: 1, ts: '2024-05-01T10:10:00Z'}\n"
               "      - {amount: 1, ts: '2024-05-01T10:20:00Z'}\n"
               "    event: {amount: 2, ts: '2024-05-01T10:30:00Z'}\n"
               "    features: {user.txn_count_1h: 0}\n"
               "    expect: {decision: allow, rules: []}\n"
               "  - name: history of another user does not count\n"
               "    history:\n"
               "      - {user_id: other, amount: 1, ts: '2024-05-01T10:00:00Z'}\n"
               "      - {user_id: other, amount: 1, ts: '2024-05-01T10:10:00Z'}\n"
               "      - {user_id: other, amount: 1, ts: '2024-05-01T10:20:00Z'}\n"
               "    event: {amount: 2, ts: '2024-05-01T10:30:00Z'}\n"
               "    expect: {decision: allow}\n"
               "  - name: wrong on purpose shows the features\n"
               "    history:\n"
               "      - {amount: 1, ts: '2024-05-01T10:00:00Z'}\n"
               "    event: {amount: 2, ts: '2024-05-01T10:30:00Z'}\n"
               "    expect: {decision: deny}\n");
    struct capture c = {0};
    const char *args[] = {"rules", "test", g_dir, NULL};
    assert_int_equal(run(&c, args), 1);
    assert_non_null(strstr(c.out, "PASS alone\n"));
    assert_non_null(strstr(c.out, "PASS after three in the hour\n"));
    assert_non_null(strstr(c.out, "PASS two in the hour and one before it\n"));
    assert_non_null(strstr(c.out, "PASS an explicit feature wins over the history\n"));
    assert_non_null(strstr(c.out, "PASS history of another user does not count\n"));
    assert_non_null(strstr(c.out, "FAIL wrong on purpose shows the features: "
                                  "expected decision deny, got allow\n"));
    assert_non_null(strstr(c.out, " user.txn_count_1h=1, "));
    assert_non_null(strstr(c.out, " user.seconds_since_last=1800, "));
    assert_non_null(strstr(c.out, "5 passed, 1 failed\n"));
    assert_string_equal(c.err, "");
    capture_free(&c);
}

static void test_history_label_point_in_time(void **state)
{
    (void)state;
    write_file("r.yaml", hist_rules);
    /* e1 is decided before its label arrives, the case's event after. The
     * label is written first in the file: records run in ts order. */
    write_file("tests/a.yaml",
               "cases:\n"
               "  - name: label after e1\n"
               "    history:\n"
               "      - {feedback: {type: label, event_id: e1, label: fraud, ts: 1714557600000}}\n"
               "      - event: {event_id: e1, amount: 2, ts: 1714554000000}\n"
               "        expect: {decision: allow, rules: []}\n"
               "    event: {amount: 2, ts: 1714561200000}\n"
               "    expect: {decision: step_up, rules: [labelled], method: otp}\n"
               "  - name: a legit label counts for nothing\n"
               "    history:\n"
               "      - {event_id: e1, amount: 2, ts: 1714554000000}\n"
               "      - {feedback: {type: label, event_id: e1, label: legit, ts: 1714557600000}}\n"
               "    event: {amount: 2, ts: 1714561200000}\n"
               "    expect: {decision: allow, rules: []}\n"
               "  - name: a label for e1 that e1 could not see\n"
               "    history:\n"
               "      - {feedback: {type: label, event_id: e0, label: fraud, ts: 1714550400000}}\n"
               "      - event: {event_id: e1, amount: 2, ts: 1714554000000}\n"
               "        expect: {decision: allow}\n" /* wrong: the label came first */
               "    event: {amount: 2, ts: 1714561200000}\n"
               "    expect: {decision: step_up}\n");
    struct capture c = {0};
    const char *args[] = {"rules", "test", g_dir, NULL};
    assert_int_equal(run(&c, args), 1);
    assert_non_null(strstr(c.out, "PASS label after e1\n"));
    assert_non_null(strstr(c.out, "PASS a legit label counts for nothing\n"));
    assert_non_null(strstr(c.out, "FAIL a label for e1 that e1 could not see: history event e1 "
                                  "(line 18): expected decision allow, got step_up\n"));
    assert_non_null(strstr(c.out, "2 passed, 1 failed\n"));
    capture_free(&c);
}

static void test_history_settings_and_auth_results(void **state)
{
    (void)state;
    write_file("r.yaml", hist_rules);
    write_file("tests/a.yaml",
               "cases:\n"
               "  - name: default method\n"
               "    history:\n"
               "      - {amount: 1, ts: 1714554000000}\n"
               "    event: {amount: 150, ts: 1714561200000}\n"
               "    expect: {decision: step_up, rules: [big], method: otp}\n"
               "  - name: settings choose password\n"
               "    history:\n"
               "      - {feedback: {type: settings, step_up_method: password, ts: 1714554000000}}\n"
               "    event: {amount: 150, ts: 1714561200000}\n"
               "    expect: {decision: step_up, rules: [big], method: password}\n"
               "  - name: settings of another user do not apply\n"
               "    history:\n"
               "      - {feedback: {type: settings, user_id: u2, step_up_method: password,\n"
               "                    ts: 1714554000000}}\n"
               "    event: {amount: 150, ts: 1714561200000}\n"
               "    expect: {decision: step_up, method: otp}\n"
               "  - name: the case's own preferred_method wins\n"
               "    history:\n"
               "      - {feedback: {type: settings, step_up_method: password, ts: 1714554000000}}\n"
               "    event: {amount: 150, ts: 1714561200000}\n"
               "    preferred_method: biometric\n"
               "    expect: {decision: step_up, method: biometric}\n"
               "  - name: failed step-ups from feedback reach the policy\n"
               "    history:\n"
               "      - {event_id: e1, amount: 150, ts: 1714554000000}\n"
               "      - {feedback: {type: auth_result, event_id: e1, method: otp, result: failed,\n"
               "                    ts: 1714554060000}}\n"
               "    event: {amount: 150, ts: 1714561200000}\n"
               "    expect: {decision: step_up, method: biometric}\n");
    /* escalate after one failure, for the last case */
    char rules[512];
    snprintf(rules, sizeof(rules), "%s",
             "policy:\n"
             "  escalation: {escalate_method_after_failed: 1, escalate_method: biometric,\n"
             "               deny_after_failed_step_ups: 0}\n"
             "rules:\n"
             "  - {id: big, when: amount > 100, then: step_up}\n");
    write_file("r.yaml", rules);
    struct capture c = {0};
    const char *args[] = {"rules", "test", g_dir, NULL};
    int rc = run(&c, args);
    if (rc != 0)
        fprintf(stderr, "%s%s", c.out, c.err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(c.out, "PASS settings choose password\n"));
    assert_non_null(strstr(c.out, "PASS failed step-ups from feedback reach the policy\n"));
    assert_non_null(strstr(c.out, "5 passed, 0 failed\n"));
    capture_free(&c);
}

static void test_history_errors(void **state)
{
    (void)state;
    write_file("r.yaml", hist_rules);
    write_file("tests/a.yaml",
               "cases:\n"
               "  - name: broken history\n"
               "    history:\n"
               "      - {feedback: {type: lable, event_id: e1, ts: 1}}\n"
               "      - {amount: -1, ts: 2, chanel: card}\n"
               "      - {amount: 1}\n"
               "      - {feedbak: {type: label}}\n"
               "      - {feedback: {type: label, event_id: e1, label: frod, ts: 3}}\n"
               "      - {feedback: {type: settings, ts: 4, result: failed}}\n"
               "    event: {amount: 2, ts: 10}\n"
               "    expect: {decision: allow}\n"
               "  - name: later than the event\n"
               "    history:\n"
               "      - {amount: 1, ts: 11}\n"
               "    event: {amount: 2, ts: 10}\n"
               "    expect: {decision: allow}\n"
               "  - name: no ts on the event\n"
               "    history: []\n"
               "    event: {amount: 2}\n"
               "    expect: {decision: allow}\n"
               "  - name: model and score\n"
               "    event: {amount: 2}\n"
               "    score: 0.5\n"
               "    model: nowhere.json\n"
               "    expect: {decision: allow}\n"
               "  - name: missing model\n"
               "    event: {amount: 2}\n"
               "    model: nowhere.json\n"
               "    expect: {decision: allow}\n"
               "  - name: fine\n"
               "    history: [{amount: 1, ts: 1}]\n"
               "    event: {amount: 2, ts: 10}\n"
               "    expect: {decision: allow}\n");
    struct capture c = {0};
    const char *args[] = {"rules", "test", g_dir, NULL};
    assert_int_equal(run(&c, args), 1);
    const char *want[] = {
        "a.yaml:4:27: error: unknown feedback type 'lable' (did you mean label?)\n",
        "a.yaml:5:18: error: 'amount' must be a number >= 0\n",
        "a.yaml:5:29: error: unknown key 'chanel' in history event (did you mean channel?)\n",
        "a.yaml:6:9: error: a history record needs a ts (ts: 2024-05-01T12:00:00Z)\n",
        "a.yaml:7:10: error: unknown key 'feedbak' in a history record (did you mean feedback?)\n",
        "a.yaml:8:55: error: 'label' cannot be 'frod' (fraud or legit)\n",
        "a.yaml:9:44: error: 'result' is not a field of settings feedback\n",
        "a.yaml:9:20: error: settings feedback has no step_up_method "
        "(otp, biometric or password)\n",
        "a.yaml:14:9: error: history record is later than the case's event "
        "(history comes before the event)\n",
        "a.yaml:19:12: error: with a history, the event needs a ts (add ts: to the event)\n",
        "a.yaml:24:12: error: a case gives either score or model (remove one of them)\n",
        "tests/nowhere.json:0:0: error: cannot open model",
        "nowhere.json has problems (above)\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!strstr(c.err, want[i]))
            fprintf(stderr, "missing: %s\nin:\n%s", want[i], c.err);
        assert_non_null(strstr(c.err, want[i]));
    }
    assert_non_null(strstr(c.out, "PASS fine\n"));
    assert_non_null(strstr(c.out, "1 passed, 0 failed\n"));
    capture_free(&c);
}

/* A one-split XGBoost model on user.txn_count_1h (< 2.5: 0.1357, else
 * 0.8643), in the format of tests/data/replay/stump.json. */
static const char *const stump =
    "{\"learner\":{\"attributes\":{},\"feature_names\":[\"user.txn_count_1h\"],"
    "\"feature_types\":[],\"gradient_booster\":{\"model\":{\"gbtree_model_param\":"
    "{\"num_parallel_tree\":\"1\",\"num_trees\":\"1\",\"size_leaf_vector\":\"0\"},"
    "\"tree_info\":[0],\"trees\":[{\"base_weights\":[-0E0,-1.8518518E0,1.8518518E0],"
    "\"categories\":[],\"categories_nodes\":[],\"categories_segments\":[],"
    "\"categories_sizes\":[],\"default_left\":[1,0,0],\"id\":0,\"left_children\":[1,-1,-1],"
    "\"loss_changes\":[9.259259E1,0E0,0E0],\"parents\":[2147483647,0,0],"
    "\"right_children\":[2,-1,-1],\"split_conditions\":[2.5E0,-1.8518518E0,1.8518518E0],"
    "\"split_indices\":[0,0,0],\"split_type\":[0,0,0],\"sum_hessian\":[2.5E1,1.25E1,1.25E1],"
    "\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"1\",\"num_nodes\":\"3\","
    "\"size_leaf_vector\":\"0\"}}]},\"name\":\"gbtree\"},\"learner_model_param\":"
    "{\"base_score\":\"5E-1\",\"boost_from_average\":\"0\",\"num_class\":\"0\","
    "\"num_feature\":\"1\",\"num_target\":\"1\"},\"objective\":{\"name\":\"binary:logistic\","
    "\"reg_loss_param\":{\"scale_pos_weight\":\"1\"}}},\"version\":[1,7,4]}";

static void test_history_with_model(void **state)
{
    (void)state;
    write_file("r.yaml", "rules: []\n");
    write_file("tests/stump.json", stump);
    write_file("tests/a.yaml",
               "cases:\n"
               "  - name: quiet user scores low\n"
               "    history: [{amount: 1, ts: 1714554000000}]\n"
               "    event: {amount: 2, ts: 1714555000000}\n"
               "    model: stump.json\n"
               "    expect: {decision: allow}\n"
               "  - name: busy user scores high\n"
               "    history:\n"
               "      - {amount: 1, ts: 1714554000000}\n"
               "      - {amount: 1, ts: 1714554100000}\n"
               "      - event: {amount: 1, ts: 1714554200000}\n"
               "        expect: {decision: allow}\n"
               "    event: {amount: 2, ts: 1714555000000}\n"
               "    model: stump.json\n"
               "    expect: {decision: step_up, method: biometric}\n");
    struct capture c = {0};
    const char *args[] = {"rules", "test", g_dir, NULL};
    int rc = run(&c, args);
    if (rc != 0)
        fprintf(stderr, "%s%s", c.out, c.err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(c.out, "2 passed, 0 failed\n"));
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
        cmocka_unit_test_setup_teardown(test_history_changes_decision, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_history_label_point_in_time, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_history_settings_and_auth_results, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_history_errors, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_history_with_model, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
