/* test_core.c - errors, diagnostics, did-you-mean, clock, feature catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "riskgate/clock.h"
#include "riskgate/diag.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"

static void test_err_str(void **state)
{
    (void)state;
    assert_string_equal(rg_err_str(RG_ENOMEM), "out of memory");
    assert_true(rg_err_is_retriable(RG_EAGAIN));
    assert_false(rg_err_is_retriable(RG_EPARSE));
    assert_string_equal(rg_err_str(-999), "unknown error");
}

static void test_diags_collect_all(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    rg_diags_add(&d, "a.yaml", 3, 7, NULL, "first %d", 1);
    rg_diags_add(&d, "a.yaml", 9, 1, "did you mean x?", "second");
    assert_int_equal(d.n, 2);
    assert_int_equal(d.v[1].line, 9);
    assert_string_equal(d.v[1].hint, "did you mean x?");
    rg_diags_fini(&d);
    assert_int_equal(d.n, 0);
}

static void test_did_you_mean(void **state)
{
    (void)state;
    const char *m = rg_did_you_mean("user.txn_cnt_1h", rg_feature_names(), RG_FEAT_COUNT);
    assert_non_null(m);
    assert_string_equal(m, "user.txn_count_1h");
    assert_null(rg_did_you_mean("zzzzzzzzzzzzzzzzzzzz", rg_feature_names(), RG_FEAT_COUNT));
}

static void test_feature_lookup(void **state)
{
    (void)state;
    assert_int_equal(rg_feature_lookup("amount"), RG_FEAT_AMOUNT);
    assert_int_equal(rg_feature_lookup("ip.distinct_users_24h"), RG_FEAT_IP_DISTINCT_USERS_24H);
    assert_int_equal(rg_feature_lookup("nope"), -1);
    for (int i = 0; i < RG_FEAT_COUNT; i++)
        assert_int_equal(rg_feature_lookup(rg_feature_name(i)), i);
}

static void test_fake_clock(void **state)
{
    (void)state;
    rg_clock_set_fake_ms(1000);
    rg_clock_advance_ms(500);
    assert_int_equal(rg_clock_now_ms(), 1500);
    rg_clock_set_fake_ms(0);
    assert_true(rg_clock_now_ms() > 1600000000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_str),
        cmocka_unit_test(test_diags_collect_all),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_feature_lookup),
        cmocka_unit_test(test_fake_clock),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
