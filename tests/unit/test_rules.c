/* test_rules.c - the rule expression language, rule loading, decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/rules.h"
#include "riskgate/verdict.h"

static struct rg_txn g_txn;
static double g_feat[RG_FEAT_COUNT];
static double g_score, g_anomaly;

static void ctx_reset(void)
{
    memset(&g_txn, 0, sizeof(g_txn));
    strcpy(g_txn.event_id, "e1");
    strcpy(g_txn.user_id, "u1");
    strcpy(g_txn.currency, "EUR");
    g_txn.amount = 2.5;
    strcpy(g_txn.merchant_category, "gift_card");
    strcpy(g_txn.channel, "carrier_billing");
    strcpy(g_txn.country, "NG");
    strcpy(g_txn.merchant_id, "m-steam-01");
    g_txn.has = RG_HAS_MERCHANT_CAT | RG_HAS_CHANNEL | RG_HAS_COUNTRY | RG_HAS_MERCHANT_ID;
    for (int i = 0; i < RG_FEAT_COUNT; i++)
        g_feat[i] = NAN;
    g_feat[RG_FEAT_AMOUNT] = 2.5;
    g_score = NAN;
    g_anomaly = NAN;
}

static int setup(void **state)
{
    (void)state;
    ctx_reset();
    return 0;
}

static struct rg_ruleset *load_ok(const char *yaml)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ruleset *rs = NULL;
    int rc = rg_ruleset_load_buf(yaml, strlen(yaml), "t.yaml", &d, &rs);
    if (rc != 0)
        rg_diags_print(&d, stderr);
    assert_int_equal(rc, 0);
    assert_non_null(rs);
    rg_diags_fini(&d);
    return rs;
}

static const char *LISTS = "lists:\n"
                           "  risky: [RU, NG]\n"
                           "  nums: [3, 1, 2]\n"
                           "  empty: []\n";

/* Evaluate one expression: 1 true, 0 false, 2 missing. Rule t fires on
 * true, rule m on missing, through the public API only. */
static int ev(const char *expr)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "%srules:\n"
             "  - id: t\n    then: deny\n    when: |\n      %s\n"
             "  - id: m\n    then: step_up\n    when: |\n      (%s) is missing\n",
             LISTS, expr, expr);
    struct rg_ruleset *rs = load_ok(yaml);
    struct rg_verdict v;
    rg_verdict_reset(&v);
    struct rg_eval_ctx ctx = {.txn = &g_txn, .feat = g_feat, .score = g_score,
                              .anomaly = g_anomaly};
    assert_int_equal(rg_ruleset_decide(rs, &ctx, &v), 0);
    int r = 0;
    assert_true(v.n_rules <= 1);
    if (v.n_rules == 1)
        r = strcmp(v.rules[0], "t") == 0 ? 1 : 2;
    rg_ruleset_free(rs);
    return r;
}

static void test_expr_arith_precedence(void **state)
{
    (void)state;
    assert_int_equal(ev("1 + 2 * 3 == 7"), 1);
    assert_int_equal(ev("(1 + 2) * 3 == 9"), 1);
    assert_int_equal(ev("10 - 4 - 3 == 3"), 1);
    assert_int_equal(ev("8 / 4 / 2 == 1"), 1);
    assert_int_equal(ev("-amount == -2.5"), 1);
    assert_int_equal(ev("- -amount == 2.5"), 1);
    assert_int_equal(ev("amount * 2 - 1 == 4"), 1);
    assert_int_equal(ev("1.5e1 == 15"), 1);
    assert_int_equal(ev("not 1 > 2 and 2 > 1"), 1);
    assert_int_equal(ev("true or false and false"), 1);
    assert_int_equal(ev("(true or false) and false"), 0);
    assert_int_equal(ev("not true or true"), 1);
    assert_int_equal(ev("not (true or true)"), 0);
    /* Division by zero is missing, not infinity. */
    assert_int_equal(ev("amount / 0 > 1"), 2);
    assert_int_equal(ev("amount / (amount - 2.5) is missing"), 1);
}

static void test_expr_comparisons(void **state)
{
    (void)state;
    assert_int_equal(ev("amount < 3"), 1);
    assert_int_equal(ev("amount < 2.5"), 0);
    assert_int_equal(ev("amount <= 2.5"), 1);
    assert_int_equal(ev("amount > 2.5"), 0);
    assert_int_equal(ev("amount >= 2.5"), 1);
    assert_int_equal(ev("amount == 2.5"), 1);
    assert_int_equal(ev("amount != 2.5"), 0);
    assert_int_equal(ev("channel == 'carrier_billing'"), 1);
    assert_int_equal(ev("channel == \"card\""), 0);
    assert_int_equal(ev("channel != 'card'"), 1);
    assert_int_equal(ev("currency == 'EUR' and user_id == 'u1'"), 1);
    assert_int_equal(ev("true == true"), 1);
    assert_int_equal(ev("(amount > 1) != true"), 0);
}

static void test_expr_missing(void **state)
{
    (void)state;
    /* user.txn_count_1h is NaN, device_id is absent, score is NaN. */
    assert_int_equal(ev("user.txn_count_1h > 1"), 2);
    assert_int_equal(ev("user.txn_count_1h <= 1"), 2);
    assert_int_equal(ev("not (user.txn_count_1h > 1)"), 2);
    assert_int_equal(ev("user.txn_count_1h + 1 > 0"), 2);
    assert_int_equal(ev("user.txn_count_1h is missing"), 1);
    assert_int_equal(ev("user.txn_count_1h is not missing"), 0);
    assert_int_equal(ev("user.txn_count_1h > 1 or true"), 1);
    assert_int_equal(ev("user.txn_count_1h > 1 or false"), 2);
    assert_int_equal(ev("user.txn_count_1h > 1 and false"), 0);
    assert_int_equal(ev("user.txn_count_1h > 1 and true"), 2);
    assert_int_equal(ev("device_id == 'd1'"), 2);
    assert_int_equal(ev("device_id != 'd1'"), 2);
    assert_int_equal(ev("device_id is missing"), 1);
    assert_int_equal(ev("country is not missing"), 1);
    assert_int_equal(ev("score > 0.5"), 2);
    assert_int_equal(ev("score is missing and anomaly is missing"), 1);
    g_feat[RG_FEAT_USER_TXN_COUNT_1H] = 4;
    g_score = 0.7;
    assert_int_equal(ev("user.txn_count_1h > 1"), 1);
    assert_int_equal(ev("score > 0.5"), 1);
}

static void test_expr_lists(void **state)
{
    (void)state;
    assert_int_equal(ev("country in risky"), 1);
    assert_int_equal(ev("country not in risky"), 0);
    assert_int_equal(ev("country in ['DE', 'FR']"), 0);
    assert_int_equal(ev("country in ['DE', 'NG']"), 1);
    assert_int_equal(ev("amount in nums"), 0);
    assert_int_equal(ev("amount * 2 - 2 in nums"), 1);
    assert_int_equal(ev("amount in [2.5, -1]"), 1);
    assert_int_equal(ev("amount in empty"), 0);
    assert_int_equal(ev("country in empty"), 0);
    assert_int_equal(ev("country in []"), 0);
    assert_int_equal(ev("device_id in risky"), 2);
    assert_int_equal(ev("user.txn_count_1h in nums"), 2);
}

static void test_expr_between_and_strings(void **state)
{
    (void)state;
    assert_int_equal(ev("amount between 2.5 and 3"), 1);
    assert_int_equal(ev("amount between 1 and 2.5"), 1);
    assert_int_equal(ev("amount between 2.6 and 3"), 0);
    assert_int_equal(ev("amount between 1 and 2 or amount > 2"), 1);
    assert_int_equal(ev("user.txn_count_1h between 1 and 2"), 2);
    assert_int_equal(ev("starts_with(merchant_id, 'm-steam')"), 1);
    assert_int_equal(ev("starts_with(merchant_id, 'steam')"), 0);
    assert_int_equal(ev("ends_with(merchant_id, '-01')"), 1);
    assert_int_equal(ev("ends_with(merchant_id, 'x-m-steam-01')"), 0);
    assert_int_equal(ev("ends_with(device_id, '1')"), 2);
}

static struct rg_verdict decide(const struct rg_ruleset *rs, enum rg_step_up_method pref,
                                int failed, uint32_t *hits);

/* Guards (the cheap pre-checks decide() runs before a rule's program) may
 * only skip rules that cannot fire. For each expression, rule t (guarded:
 * a top-level `and` chain), rule f (`not (...)`) and rule m (`(...) is
 * missing`) partition every event: exactly one must fire. A guard that
 * wrongly skips t leaves none firing. */
static void test_guards_never_change_results(void **state)
{
    (void)state;
    static const char *const exprs[] = {
        "user.txn_count_1h > 5 and amount < 3",
        "5 < user.txn_count_1h and channel == 'carrier_billing'",
        "user.txn_count_1h != 5 and country in risky",
        "amount between 1 and 2.5 and channel != 'card'",
        "(user.txn_count_1h >= 5 and amount <= 2.5) and country not in risky",
        "user.txn_count_1h == 5 and (amount > 1 or channel == 'card')",
        "channel in ['carrier_billing', 'card'] and user.txn_count_1h <= 5",
        "amount >= 1 and user.txn_count_1h < 6 and channel == 'card' and country == 'NG'",
    };
    static const double counts[] = {NAN, 4, 5, 6};
    static const double amounts[] = {0.5, 1, 2.5, 3};
    static const char *const channels[] = {NULL, "carrier_billing", "card"};
    static const char *const countries[] = {NULL, "NG", "DE"};
    int fired[3] = {0, 0, 0};
    for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "%srules:\n"
                 "  - {id: t, then: deny, when: \"%s\"}\n"
                 "  - {id: f, then: deny, when: \"not (%s)\"}\n"
                 "  - {id: m, then: deny, when: \"(%s) is missing\"}\n",
                 LISTS, exprs[e], exprs[e], exprs[e]);
        struct rg_ruleset *rs = load_ok(yaml);
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 4; b++)
                for (size_t c = 0; c < 3; c++)
                    for (size_t k = 0; k < 3; k++) {
                        ctx_reset();
                        g_feat[RG_FEAT_USER_TXN_COUNT_1H] = counts[a];
                        g_feat[RG_FEAT_AMOUNT] = g_txn.amount = amounts[b];
                        g_txn.has &= ~(uint32_t)(RG_HAS_CHANNEL | RG_HAS_COUNTRY);
                        if (channels[c]) {
                            strcpy(g_txn.channel, channels[c]);
                            g_txn.has |= RG_HAS_CHANNEL;
                        }
                        if (countries[k]) {
                            strcpy(g_txn.country, countries[k]);
                            g_txn.has |= RG_HAS_COUNTRY;
                        }
                        struct rg_verdict v = decide(rs, RG_METHOD_NONE, 0, NULL);
                        if (v.n_rules != 1)
                            fprintf(stderr, "expr '%s' count=%g amount=%g channel=%s country=%s: "
                                    "%d rules fired\n", exprs[e], counts[a], amounts[b],
                                    channels[c] ? channels[c] : "-",
                                    countries[k] ? countries[k] : "-", v.n_rules);
                        assert_int_equal(v.n_rules, 1);
                        fired[v.rules[0][0] == 't' ? 0 : v.rules[0][0] == 'f' ? 1 : 2]++;
                    }
        rg_ruleset_free(rs);
    }
    /* The grid reaches all three outcomes. */
    assert_true(fired[0] > 0 && fired[1] > 0 && fired[2] > 0);
}

/* Load text expecting failure; return the diagnostics. */
static void load_bad(const char *yaml, struct rg_diags *d)
{
    rg_diags_init(d);
    struct rg_ruleset *rs = (void *)1;
    int rc = rg_ruleset_load_buf(yaml, strlen(yaml), "bad.yaml", d, &rs);
    assert_int_equal(rc, RG_EPARSE);
    assert_null(rs);
    assert_true(d->n > 0);
}

static bool has_diag(const struct rg_diags *d, int line, int col, const char *msg_part,
                     const char *hint_part)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct rg_diag *g = &d->v[i];
        if (g->line == line && g->col == col && strstr(g->msg, msg_part) &&
            (!hint_part || (g->hint && strstr(g->hint, hint_part))))
            return true;
    }
    rg_diags_print(d, stderr);
    return false;
}

static void test_errors_unknown_feature_position(void **state)
{
    (void)state;
    struct rg_diags d;
    load_bad("rules:\n"
             "  - id: a\n"
             "    when: amount > 1 and user.txn_cnt_1h > 3\n"
             "    then: deny\n",
             &d);
    /* "when: " starts the scalar at column 11; the name is 15 bytes in. */
    assert_true(has_diag(&d, 3, 26, "unknown feature user.txn_cnt_1h",
                         "did you mean user.txn_count_1h?"));
    rg_diags_fini(&d);
    /* Quoted scalar: one more for the quote. */
    load_bad("rules:\n"
             "  - id: a\n"
             "    when: 'country == 5'\n"
             "    then: deny\n",
             &d);
    assert_true(has_diag(&d, 3, 20, "cannot compare a string with a number", NULL));
    rg_diags_fini(&d);
    /* Literal block: line and column inside the block. */
    load_bad("rules:\n"
             "  - id: a\n"
             "    when: |\n"
             "      amount > 1 and\n"
             "        starts_with(channel, 3)\n"
             "    then: deny\n",
             &d);
    assert_true(has_diag(&d, 5, 30, "starts_with needs a string, but this is a number", NULL));
    rg_diags_fini(&d);
}

static void test_errors_types(void **state)
{
    (void)state;
    struct rg_diags d;
    load_bad("lists:\n  risky: [RU, NG]\nrules:\n"
             "  - {id: a, then: deny, when: amount + 'x' > 1}\n"
             "  - {id: b, then: deny, when: amount in risky}\n"
             "  - {id: c, then: deny, when: amount}\n"
             "  - {id: d, then: deny, when: channel > 'a'}\n"
             "  - {id: e, then: deny, when: not amount}\n"
             "  - {id: f, then: deny, when: \"country in ['DE', 3]\"}\n"
             "  - {id: g, then: deny, when: risky == 1}\n"
             "  - {id: h, then: deny, when: amount in riskx}\n",
             &d);
    assert_int_equal(d.n, 8);
    assert_true(has_diag(&d, 4, 40, "'+' needs a number, but this is a string", NULL));
    assert_true(has_diag(&d, 5, 41, "cannot look for a number in a list of strings", NULL));
    assert_true(has_diag(&d, 6, 31, "the expression is a number; it must be a boolean", NULL));
    assert_true(has_diag(&d, 7, 39, "cannot order strings with '>'", NULL));
    assert_true(has_diag(&d, 8, 35, "'not' needs a boolean, but this is a number", NULL));
    assert_true(has_diag(&d, 9, 50, "list item is a number", NULL));
    assert_true(has_diag(&d, 10, 31, "'risky' is a list", NULL));
    assert_true(has_diag(&d, 11, 41, "unknown list riskx", "did you mean risky?"));
    rg_diags_fini(&d);
}

static void test_errors_syntax(void **state)
{
    (void)state;
    struct rg_diags d;
    load_bad("rules:\n"
             "  - {id: a, then: deny, when: (amount > 1 and (amount < 3)}\n"
             "  - {id: b, then: deny, when: amount > 1 and}\n"
             "  - {id: c, then: deny, when: amount > 1)}\n"
             "  - {id: d, then: deny, when: amount = 1}\n"
             "  - {id: e, then: deny, when: \"channel == 'abc\"}\n"
             "  - {id: f, then: deny, when: 1 < amount < 3}\n"
             "  - {id: g, then: deny, when: amount between 1 or 3}\n",
             &d);
    assert_int_equal(d.n, 7);
    assert_true(has_diag(&d, 2, 59, "missing ')'", "to close the '(' at column 31"));
    assert_true(has_diag(&d, 3, 45, "expression ends too early", NULL));
    assert_true(has_diag(&d, 4, 41, "unmatched ')'", NULL));
    assert_true(has_diag(&d, 5, 38, "unexpected '='", "use =="));
    assert_true(has_diag(&d, 6, 43, "unterminated string", NULL));
    assert_true(has_diag(&d, 7, 42, "comparisons cannot be chained", NULL));
    assert_true(has_diag(&d, 8, 48, "unexpected 'or'", NULL));
    rg_diags_fini(&d);
}

static void test_errors_rule_keys_all_reported(void **state)
{
    (void)state;
    struct rg_diags d;
    /* Three separate problems in one load: all three are reported. */
    load_bad("rules:\n"
             "  - id: a\n"
             "    whne: amount > 1\n"
             "    then: deny\n"
             "  - id: b\n"
             "    when: amount > 1\n"
             "    then: denny\n"
             "  - id: a\n"
             "    when: amount > 1\n"
             "    then: deny\n",
             &d);
    assert_true(has_diag(&d, 3, 5, "unknown key 'whne' in rule", "did you mean when?"));
    assert_true(has_diag(&d, 7, 11, "unknown decision 'denny'", "did you mean deny"));
    assert_true(has_diag(&d, 8, 9, "duplicate rule id 'a'", "first defined at bad.yaml:2:5"));
    rg_diags_fini(&d);

    load_bad("rules:\n"
             "  - {id: a, then: deny, force: true, when: amount > 1}\n"
             "  - {id: b, then: deny, method: otp, when: amount > 1}\n"
             "  - {id: c, then: step_up, method: sms, mode: shaddow, when: amount > 1}\n"
             "  - {id: 'bad id', then: allow, when: amount > 1}\n"
             "  - {id: e, then: allow, when: amount > 1, reason: 'x {user.txn_count1h} y'}\n"
             "  - {id: forced_allow, then: allow, when: amount > 1}\n"
             "policy: {step_up_at: 0.9, deny_at: 0.5, bands: {low: otp, hihg: otp}}\n"
             "polcy: 1\n",
             &d);
    assert_true(has_diag(&d, 2, 32, "force: true only applies to then: allow", NULL));
    assert_true(has_diag(&d, 3, 33, "'method' only applies to then: step_up", NULL));
    assert_true(has_diag(&d, 4, 36, "unknown step-up method 'sms'", NULL));
    assert_true(has_diag(&d, 4, 47, "unknown mode 'shaddow'", "did you mean shadow"));
    assert_true(has_diag(&d, 5, 10, "bad rule id", NULL));
    assert_true(has_diag(&d, 6, 56, "unknown feature user.txn_count1h in reason",
                         "did you mean {user.txn_count_1h}?"));
    assert_true(has_diag(&d, 7, 10, "rule id 'forced_allow' is one of riskgate's own", NULL));
    assert_true(has_diag(&d, 8, 22, "step_up_at 0.9 is not below deny_at 0.5", NULL));
    assert_true(has_diag(&d, 8, 59, "unknown key 'hihg' in bands", "did you mean high?"));
    assert_true(has_diag(&d, 9, 1, "unknown key 'polcy' in rule file", "did you mean policy?"));
    rg_diags_fini(&d);
}

static void test_errors_bad_input(void **state)
{
    (void)state;
    struct rg_diags d;
    /* Deep nesting. */
    char deep[400];
    size_t o = (size_t)snprintf(deep, sizeof(deep), "rules: ");
    for (int i = 0; i < 40; i++)
        deep[o++] = '[';
    deep[o] = '\0';
    load_bad(deep, &d);
    assert_true(strstr(d.v[0].msg, "nesting deeper") != NULL);
    rg_diags_fini(&d);
    /* Aliases (billion laughs). */
    load_bad("lists:\n  a: &x [RU, RU]\n  b: [*x, *x]\nrules: []\n", &d);
    assert_true(strstr(d.v[0].msg, "anchors are not allowed") != NULL);
    rg_diags_fini(&d);
    /* Not UTF-8. */
    load_bad("rules:\n  - id: a\n    when: country == '\xff\xfe'\n    then: deny\n", &d);
    assert_true(strstr(d.v[0].msg, "YAML syntax") != NULL);
    rg_diags_fini(&d);
    /* 10 MB. */
    size_t big = 10u << 20;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, '#', big);
    buf[big - 1] = '\0';
    load_bad(buf, &d);
    free(buf);
    assert_true(strstr(d.v[0].msg, "the limit is") != NULL);
    rg_diags_fini(&d);
    /* Non-ASCII in an expression, a very long expression, deep parens. */
    load_bad("rules:\n  - {id: a, then: deny, when: amount > 1 ∧ true}\n", &d);
    assert_true(has_diag(&d, 2, 42, "unexpected non-ASCII character", NULL));
    rg_diags_fini(&d);
    char *lp = malloc(200);
    memset(lp, '(', 100);
    strcpy(lp + 100, "1");
    char yaml[400];
    snprintf(yaml, sizeof(yaml), "rules:\n  - {id: a, then: deny, when: '%s'}\n", lp);
    free(lp);
    load_bad(yaml, &d);
    assert_true(strstr(d.v[0].msg, "nested too deeply") != NULL);
    rg_diags_fini(&d);
    /* Empty file, a scalar file, wrong shapes. */
    load_bad("", &d);
    assert_true(strstr(d.v[0].msg, "empty rule file") != NULL);
    rg_diags_fini(&d);
    load_bad("rules: 3\n", &d);
    assert_true(has_diag(&d, 1, 8, "'rules' must be a list", NULL));
    rg_diags_fini(&d);
    load_bad("rules:\n  - id: a\n    then: deny\n", &d);
    assert_true(has_diag(&d, 2, 5, "rule a has no 'when'", NULL));
    rg_diags_fini(&d);
}

static void test_empty_rules_valid(void **state)
{
    (void)state;
    struct rg_ruleset *rs = load_ok("rules: []\n");
    assert_int_equal(rg_ruleset_count(rs), 0);
    assert_int_equal(strlen(rg_ruleset_version(rs)), 12);
    rg_ruleset_free(rs);
}

/* ---- decisions ---------------------------------------------------------- */

static struct rg_verdict decide(const struct rg_ruleset *rs, enum rg_step_up_method pref,
                                int failed, uint32_t *hits)
{
    struct rg_verdict v;
    rg_verdict_reset(&v);
    struct rg_eval_ctx ctx = {.txn = &g_txn, .feat = g_feat, .score = g_score,
                              .anomaly = g_anomaly, .preferred = pref,
                              .failed_step_ups_24h = failed, .rule_hits = hits};
    assert_int_equal(rg_ruleset_decide(rs, &ctx, &v), 0);
    return v;
}

static const char *DECIDE_RULES =
    "policy:\n"
    "  step_up_at: 0.5\n"
    "  deny_at: 0.9\n"
    "  step_up_ttl_s: 120\n"
    "  anomaly_step_up_at: 0.8\n"
    "  high_at: 0.7\n"
    "  bands: {low: password, medium: otp, high: biometric}\n"
    "  escalation: {escalate_method_after_failed: 1, escalate_method: biometric,\n"
    "               deny_after_failed_step_ups: 2}\n"
    "rules:\n"
    "  - id: trusted\n"
    "    when: user.account_age_days > 90 and amount < 5\n"
    "    then: allow\n"
    "    force: true\n"
    "    reason: 'trusted user, {user.account_age_days} days old'\n"
    "  - id: burst\n"
    "    when: user.txn_count_1h >= 10\n"
    "    then: step_up\n"
    "    reason: '{user.txn_count_1h} purchases in the last hour in {country}'\n"
    "  - id: burst_pw\n"
    "    when: user.txn_count_1h >= 20\n"
    "    then: step_up\n"
    "    method: password\n"
    "  - id: farm\n"
    "    when: device.distinct_users_24h > 5\n"
    "    then: deny\n"
    "    description: device farm\n"
    "  - id: shadow_geo\n"
    "    when: country in ['NG']\n"
    "    then: deny\n"
    "    mode: shadow\n";

static void test_decide_forced_allow_beats_deny(void **state)
{
    (void)state;
    struct rg_ruleset *rs = load_ok(DECIDE_RULES);
    g_feat[RG_FEAT_USER_ACCOUNT_AGE_DAYS] = 400;
    g_feat[RG_FEAT_DEVICE_DISTINCT_USERS_24H] = 9;
    g_score = 0.95;
    uint32_t hits[5] = {0};
    struct rg_verdict v = decide(rs, RG_METHOD_NONE, 0, hits);
    assert_int_equal(v.decision, RG_ALLOW);
    assert_int_equal(v.method, RG_METHOD_NONE);
    assert_string_equal(v.reasons[0].code, "forced_allow");
    assert_int_equal(v.reasons[0].source, RG_SRC_POLICY);
    assert_string_equal(v.reasons[1].code, "trusted");
    assert_string_equal(v.reasons[1].detail, "trusted user, 400 days old");
    assert_int_equal(v.n_rules, 2);
    assert_string_equal(v.rules[0], "trusted");
    assert_string_equal(v.rules[1], "farm");
    assert_int_equal(hits[0], 1);
    assert_int_equal(hits[3], 1);
    assert_int_equal(hits[4], 1);
    assert_int_equal(hits[1], 0);
    /* The model and the farm rule are still listed as reasons. */
    bool model = false, farm = false;
    for (int i = 0; i < v.n_reasons; i++) {
        model |= strcmp(v.reasons[i].code, "model_score_deny") == 0;
        farm |= strcmp(v.reasons[i].code, "farm") == 0;
    }
    assert_true(model && farm);
    assert_string_equal(v.ruleset_version, rg_ruleset_version(rs));
    rg_ruleset_free(rs);
}

static void test_decide_most_severe_and_model(void **state)
{
    (void)state;
    struct rg_ruleset *rs = load_ok(DECIDE_RULES);
    /* Nothing matches, no model: allow with no reasons. */
    strcpy(g_txn.country, "DE");
    struct rg_verdict v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_ALLOW);
    assert_int_equal(v.n_reasons, 0);
    assert_int_equal(v.n_rules, 0);
    /* Step-up rule plus deny rule: deny wins; the deny rule reason first. */
    g_feat[RG_FEAT_USER_TXN_COUNT_1H] = 12;
    g_feat[RG_FEAT_DEVICE_DISTINCT_USERS_24H] = 6;
    v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_DENY);
    assert_int_equal(v.n_rules, 2);
    assert_string_equal(v.reasons[0].code, "farm");
    assert_string_equal(v.reasons[0].detail, "device farm");
    assert_string_equal(v.reasons[1].code, "burst");
    assert_string_equal(v.reasons[1].detail, "12 purchases in the last hour in DE");
    /* Model thresholds alone. */
    g_feat[RG_FEAT_USER_TXN_COUNT_1H] = NAN;
    g_feat[RG_FEAT_DEVICE_DISTINCT_USERS_24H] = NAN;
    g_score = 0.49;
    assert_int_equal(decide(rs, RG_METHOD_NONE, 0, NULL).decision, RG_ALLOW);
    g_score = 0.5;
    v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_STEP_UP);
    assert_string_equal(v.reasons[0].code, "model_score_step_up");
    assert_int_equal(v.reasons[0].source, RG_SRC_MODEL);
    assert_string_equal(v.reasons[0].detail, "score 0.500 >= step_up_at 0.500");
    assert_int_equal(v.ttl_s, 120);
    g_score = 0.9;
    v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_DENY);
    assert_string_equal(v.reasons[0].code, "model_score_deny");
    /* A low score does not soften a deny rule. */
    g_score = 0.01;
    g_feat[RG_FEAT_DEVICE_DISTINCT_USERS_24H] = 6;
    assert_int_equal(decide(rs, RG_METHOD_NONE, 0, NULL).decision, RG_DENY);
    /* Anomaly threshold. */
    g_feat[RG_FEAT_DEVICE_DISTINCT_USERS_24H] = NAN;
    g_anomaly = 0.85;
    v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_STEP_UP);
    assert_string_equal(v.reasons[0].code, "anomaly_step_up");
    rg_ruleset_free(rs);
}

static void test_decide_methods_and_escalation(void **state)
{
    (void)state;
    struct rg_ruleset *rs = load_ok(DECIDE_RULES);
    strcpy(g_txn.country, "DE");
    g_feat[RG_FEAT_USER_TXN_COUNT_1H] = 12;
    /* Band: no score -> low -> password. */
    struct rg_verdict v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_STEP_UP);
    assert_int_equal(v.method, RG_METHOD_PASSWORD);
    g_score = 0.6; /* medium */
    assert_int_equal(decide(rs, RG_METHOD_NONE, 0, NULL).method, RG_METHOD_OTP);
    g_score = 0.75; /* high */
    assert_int_equal(decide(rs, RG_METHOD_NONE, 0, NULL).method, RG_METHOD_BIOMETRIC);
    /* Preferred beats the band and the rule's method. */
    assert_int_equal(decide(rs, RG_METHOD_OTP, 0, NULL).method, RG_METHOD_OTP);
    g_feat[RG_FEAT_USER_TXN_COUNT_1H] = 25;
    g_score = 0.6;
    assert_int_equal(decide(rs, RG_METHOD_NONE, 0, NULL).method, RG_METHOD_PASSWORD);
    assert_int_equal(decide(rs, RG_METHOD_OTP, 0, NULL).method, RG_METHOD_OTP);
    /* One failure: stronger method. Two: deny. */
    v = decide(rs, RG_METHOD_OTP, 1, NULL);
    assert_int_equal(v.decision, RG_STEP_UP);
    assert_int_equal(v.method, RG_METHOD_BIOMETRIC);
    bool esc = false;
    for (int i = 0; i < v.n_reasons; i++)
        esc |= strcmp(v.reasons[i].code, "step_up_method_escalated") == 0;
    assert_true(esc);
    v = decide(rs, RG_METHOD_OTP, 2, NULL);
    assert_int_equal(v.decision, RG_DENY);
    assert_int_equal(v.method, RG_METHOD_NONE);
    esc = false;
    for (int i = 0; i < v.n_reasons; i++)
        if (strcmp(v.reasons[i].code, "step_up_escalated") == 0) {
            esc = true;
            assert_int_equal(v.reasons[i].source, RG_SRC_POLICY);
        }
    assert_true(esc);
    /* Failures do not turn an allow into anything. */
    g_feat[RG_FEAT_USER_TXN_COUNT_1H] = 1;
    g_score = 0.1;
    assert_int_equal(decide(rs, RG_METHOD_NONE, 5, NULL).decision, RG_ALLOW);
    rg_ruleset_free(rs);
}

static void test_decide_shadow_never_decides(void **state)
{
    (void)state;
    struct rg_ruleset *rs = load_ok(DECIDE_RULES);
    /* country NG matches shadow_geo (deny) only. */
    struct rg_verdict v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_ALLOW);
    assert_int_equal(v.n_rules, 0);
    assert_int_equal(v.n_reasons, 0);
    assert_int_equal(v.n_shadow, 1);
    assert_string_equal(v.shadow[0].rule_id, "shadow_geo");
    assert_int_equal(v.shadow[0].decision, RG_DENY);
    assert_int_equal(v.shadow_decision, RG_DENY);
    /* Shadow with an enforced step-up: decision step_up, shadow deny. */
    g_feat[RG_FEAT_USER_TXN_COUNT_1H] = 12;
    v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_STEP_UP);
    assert_int_equal(v.shadow_decision, RG_DENY);
    rg_ruleset_free(rs);
}

static void test_decide_without_ruleset(void **state)
{
    (void)state;
    g_score = 0.95;
    struct rg_verdict v = decide(NULL, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_DENY);
    assert_string_equal(v.reasons[0].code, "model_score_deny");
    assert_null(v.ruleset_version);
    g_score = 0.6;
    v = decide(NULL, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_STEP_UP);
    assert_int_equal(v.method, RG_METHOD_OTP);
    assert_int_equal(v.ttl_s, 300);
    /* Built-in: deny after 3 failed step-ups. */
    assert_int_equal(decide(NULL, RG_METHOD_NONE, 3, NULL).decision, RG_DENY);
    g_score = NAN;
    assert_int_equal(decide(NULL, RG_METHOD_NONE, 0, NULL).decision, RG_ALLOW);
    struct rg_eval_ctx bad = {.txn = NULL, .feat = g_feat};
    struct rg_verdict vv;
    assert_int_equal(rg_ruleset_decide(NULL, &bad, &vv), RG_EINVAL);
}

static void test_reason_rendering(void **state)
{
    (void)state;
    struct rg_ruleset *rs = load_ok(
        "rules:\n"
        "  - id: r\n"
        "    when: true\n"
        "    then: step_up\n"
        "    reason: '{user.txn_count_1h} buys, {amount} {currency} at {merchant_category}, "
        "device {device_id}, score {score}'\n");
    g_feat[RG_FEAT_USER_TXN_COUNT_1H] = 7;
    g_score = 0.25;
    struct rg_verdict v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_string_equal(v.reasons[0].code, "r");
    assert_int_equal(v.reasons[0].source, RG_SRC_RULE);
    assert_string_equal(v.reasons[0].detail,
                        "7 buys, 2.5 EUR at gift_card, device missing, score 0.25");
    rg_ruleset_free(rs);
    /* Truncated to the detail buffer, never overflowing. */
    char yaml[1200];
    char longtxt[600];
    memset(longtxt, 'x', sizeof(longtxt) - 1);
    longtxt[sizeof(longtxt) - 1] = '\0';
    snprintf(yaml, sizeof(yaml), "rules:\n  - {id: r, when: true, then: deny, reason: '%s {amount}'}\n",
             longtxt);
    rs = load_ok(yaml);
    v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(strlen(v.reasons[0].detail), RG_REASON_DETAIL_MAX - 1);
    rg_ruleset_free(rs);
}

/* ---- concurrency ------------------------------------------------------ */

struct worker {
    const struct rg_ruleset *rs;
    const struct rg_txn *txns;
    const double *feats;
    const enum rg_decision *want;
    int n, mismatches;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    uint32_t hits[8] = {0};
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < w->n; i++) {
            struct rg_verdict v;
            rg_verdict_reset(&v);
            struct rg_eval_ctx ctx = {.txn = &w->txns[i], .feat = w->feats + i * RG_FEAT_COUNT,
                                      .score = NAN, .anomaly = NAN, .rule_hits = hits};
            rg_ruleset_decide(w->rs, &ctx, &v);
            if (v.decision != w->want[i])
                w->mismatches++;
        }
    return NULL;
}

/* Several threads deciding on one ruleset get the single-threaded answers
 * (and give TSan something to look at). */
static void test_decide_concurrent(void **state)
{
    (void)state;
    struct rg_ruleset *rs = load_ok(DECIDE_RULES);
    enum { N = 64, T = 4 };
    static struct rg_txn txns[N];
    static double feats[N * RG_FEAT_COUNT];
    enum rg_decision want[N];
    for (int i = 0; i < N; i++) {
        ctx_reset();
        g_feat[RG_FEAT_USER_TXN_COUNT_1H] = i % 25;
        g_feat[RG_FEAT_DEVICE_DISTINCT_USERS_24H] = i % 7;
        g_feat[RG_FEAT_USER_ACCOUNT_AGE_DAYS] = i % 3 ? NAN : 100;
        strcpy(g_txn.country, i % 2 ? "NG" : "DE");
        txns[i] = g_txn;
        memcpy(feats + i * RG_FEAT_COUNT, g_feat, sizeof(g_feat));
        struct rg_verdict v;
        rg_verdict_reset(&v);
        struct rg_eval_ctx ctx = {.txn = &txns[i], .feat = feats + i * RG_FEAT_COUNT,
                                  .score = NAN, .anomaly = NAN};
        rg_ruleset_decide(rs, &ctx, &v);
        want[i] = v.decision;
    }
    struct worker w[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) {
        w[t] = (struct worker){rs, txns, feats, want, N, 0};
        assert_int_equal(pthread_create(&th[t], NULL, worker_run, &w[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(w[t].mismatches, 0);
    }
    /* The grid covers all three decisions. */
    int seen[3] = {0, 0, 0};
    for (int i = 0; i < N; i++)
        seen[want[i]]++;
    assert_true(seen[RG_ALLOW] && seen[RG_STEP_UP] && seen[RG_DENY]);
    rg_ruleset_free(rs);
}

/* ---- directories, lists, versions ----------------------------------- */

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

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

static void test_load_dir_lists_and_version(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/rg_rules_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ruleset *rs = NULL;
    /* No rule files. */
    write_file("README.md", "not rules\n");
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), RG_EPARSE);
    assert_true(strstr(d.v[0].msg, "no rule files in") != NULL);
    rg_diags_fini(&d);

    char sub[128];
    snprintf(sub, sizeof(sub), "%s/lists", g_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("lists/gc.txt", "# gift card merchants\nm-steam-01\n  m-xbox  # trailing\n\n");
    write_file("b.yaml", "lists:\n  gc: {file: lists/gc.txt}\nrules:\n"
                         "  - {id: gc, when: merchant_id in gc, then: step_up}\n");
    write_file("a.yml", "rules:\n  - {id: ng, when: country in high_risk, then: deny}\n"
                        "lists:\n  high_risk: [RU, NG]\n");
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), 0);
    assert_int_equal(rg_ruleset_count(rs), 2);
    assert_string_equal(rg_ruleset_rule_id(rs, 0), "ng"); /* a.yml sorts first */
    assert_string_equal(rg_ruleset_rule_id(rs, 1), "gc");
    assert_null(rg_ruleset_rule_id(rs, 2));
    char v1[13];
    strcpy(v1, rg_ruleset_version(rs));
    struct rg_verdict v = decide(rs, RG_METHOD_NONE, 0, NULL);
    assert_int_equal(v.decision, RG_DENY);
    assert_int_equal(v.n_rules, 2);
    rg_ruleset_free(rs);
    strcpy(g_txn.merchant_id, "m-xbox");
    strcpy(g_txn.country, "DE");
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), 0);
    assert_string_equal(rg_ruleset_version(rs), v1); /* stable */
    assert_int_equal(decide(rs, RG_METHOD_NONE, 0, NULL).decision, RG_STEP_UP);
    rg_ruleset_free(rs);
    /* A changed list file changes the version. */
    write_file("lists/gc.txt", "m-steam-01\n");
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), 0);
    assert_string_not_equal(rg_ruleset_version(rs), v1);
    rg_ruleset_free(rs);
    /* A changed rule file changes it too; restoring restores it. */
    write_file("lists/gc.txt", "# gift card merchants\nm-steam-01\n  m-xbox  # trailing\n\n");
    write_file("a.yml", "rules:\n  - {id: ng, when: country in high_risk, then: step_up}\n"
                        "lists:\n  high_risk: [RU, NG]\n");
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), 0);
    assert_string_not_equal(rg_ruleset_version(rs), v1);
    rg_ruleset_free(rs);
    write_file("a.yml", "rules:\n  - {id: ng, when: country in high_risk, then: deny}\n"
                        "lists:\n  high_risk: [RU, NG]\n");
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), 0);
    assert_string_equal(rg_ruleset_version(rs), v1);
    rg_ruleset_free(rs);
    /* Duplicates across files name both places; two policies too. */
    write_file("c.yaml", "policy: {deny_at: 0.8}\nrules:\n  - {id: ng, when: true, then: deny}\n");
    write_file("d.yaml", "policy: {deny_at: 0.7}\nlists: {high_risk: [X]}\nrules: []\n");
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), RG_EPARSE);
    assert_null(rs);
    char c_path[128], d_path[128], hint[300];
    snprintf(c_path, sizeof(c_path), "%s/c.yaml", g_dir);
    snprintf(d_path, sizeof(d_path), "%s/d.yaml", g_dir);
    bool dup_rule = false, dup_pol = false, dup_list = false;
    for (size_t i = 0; i < d.n; i++) {
        snprintf(hint, sizeof(hint), "first defined at %s/a.yml:2:5", g_dir);
        if (strcmp(d.v[i].file, c_path) == 0 && strstr(d.v[i].msg, "duplicate rule id 'ng'") &&
            strcmp(d.v[i].hint, hint) == 0 && d.v[i].line == 3)
            dup_rule = true;
        if (strcmp(d.v[i].file, d_path) == 0 && strstr(d.v[i].msg, "second policy"))
            dup_pol = true;
        if (strcmp(d.v[i].file, d_path) == 0 && strstr(d.v[i].msg, "duplicate list 'high_risk'"))
            dup_list = true;
    }
    if (!(dup_rule && dup_pol && dup_list))
        rg_diags_print(&d, stderr);
    assert_true(dup_rule && dup_pol && dup_list);
    rg_diags_fini(&d);
    /* A missing list file and an oversized one. */
    write_file("c.yaml", "lists: {x: {file: nope.txt}}\nrules: []\n");
    unlink(d_path);
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), RG_EPARSE);
    assert_true(has_diag(&d, 1, 19, "cannot read list file", NULL));
    rg_diags_fini(&d);
    FILE *f = fopen(d_path, "w");
    assert_non_null(f);
    for (int i = 0; i < (11 << 20) / 16; i++)
        fputs("# padding......\n", f);
    fclose(f);
    unlink(c_path);
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), RG_EPARSE);
    assert_true(has_diag(&d, 0, 0, "file is larger than", NULL));
    rg_diags_fini(&d);
    rm_dir();
    assert_int_equal(rg_ruleset_load_dir(g_dir, &d, &rs), RG_ENOTFOUND);
    rg_diags_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_expr_arith_precedence, setup),
        cmocka_unit_test_setup(test_expr_comparisons, setup),
        cmocka_unit_test_setup(test_expr_missing, setup),
        cmocka_unit_test_setup(test_expr_lists, setup),
        cmocka_unit_test_setup(test_expr_between_and_strings, setup),
        cmocka_unit_test_setup(test_guards_never_change_results, setup),
        cmocka_unit_test_setup(test_errors_unknown_feature_position, setup),
        cmocka_unit_test_setup(test_errors_types, setup),
        cmocka_unit_test_setup(test_errors_syntax, setup),
        cmocka_unit_test_setup(test_errors_rule_keys_all_reported, setup),
        cmocka_unit_test_setup(test_errors_bad_input, setup),
        cmocka_unit_test_setup(test_empty_rules_valid, setup),
        cmocka_unit_test_setup(test_decide_forced_allow_beats_deny, setup),
        cmocka_unit_test_setup(test_decide_most_severe_and_model, setup),
        cmocka_unit_test_setup(test_decide_methods_and_escalation, setup),
        cmocka_unit_test_setup(test_decide_shadow_never_decides, setup),
        cmocka_unit_test_setup(test_decide_without_ruleset, setup),
        cmocka_unit_test_setup(test_reason_rendering, setup),
        cmocka_unit_test_setup(test_decide_concurrent, setup),
        cmocka_unit_test_setup(test_load_dir_lists_and_version, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
