/* test_watermark.c - contiguous offset watermarks (at-least-once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>

#include "riskgate/watermark.h"

static void test_in_order_and_out_of_order(void **state)
{
    (void)state;
    struct rg_wm wm;
    assert_int_equal(rg_wm_init(&wm, 8), 0);
    rg_wm_token t[5];
    for (int i = 0; i < 5; i++)
        assert_true(rg_wm_track(&wm, 3, 100 + i, &t[i]));
    assert_int_equal(rg_wm_token_partition(t[0]), 3);
    assert_int_equal(rg_wm_advance(&wm), -1);
    /* 101 and 102 acknowledged before 100: nothing committable yet. */
    assert_true(rg_wm_done(&wm, t[1]));
    assert_true(rg_wm_done(&wm, t[2]));
    assert_int_equal(rg_wm_advance(&wm), -1);
    assert_int_equal(rg_wm_inflight(&wm), 5);
    assert_true(rg_wm_done(&wm, t[0]));
    assert_int_equal(rg_wm_advance(&wm), 103); /* 100..102 done -> commit 103 */
    assert_int_equal(rg_wm_inflight(&wm), 2);
    assert_true(rg_wm_done(&wm, t[4]));
    assert_int_equal(rg_wm_advance(&wm), -1);
    assert_true(rg_wm_done(&wm, t[3]));
    assert_int_equal(rg_wm_advance(&wm), 105);
    assert_int_equal(wm.committed, 105);
    rg_wm_fini(&wm);
}

static void test_gaps_in_offsets(void **state)
{
    (void)state;
    struct rg_wm wm;
    assert_int_equal(rg_wm_init(&wm, 4), 0);
    rg_wm_token a, b;
    assert_true(rg_wm_track(&wm, 0, 10, &a));
    assert_true(rg_wm_track(&wm, 0, 17, &b)); /* compaction / control records */
    assert_true(rg_wm_done(&wm, b));
    assert_true(rg_wm_done(&wm, a));
    assert_int_equal(rg_wm_advance(&wm), 18);
    rg_wm_fini(&wm);
}

static void test_full_means_backpressure(void **state)
{
    (void)state;
    struct rg_wm wm;
    assert_int_equal(rg_wm_init(&wm, 4), 0);
    rg_wm_token t[4], x;
    for (int i = 0; i < 4; i++)
        assert_true(rg_wm_track(&wm, 0, i, &t[i]));
    assert_false(rg_wm_track(&wm, 0, 4, &x));
    assert_true(rg_wm_done(&wm, t[0]));
    assert_false(rg_wm_track(&wm, 0, 4, &x)); /* not advanced yet */
    assert_int_equal(rg_wm_advance(&wm), 1);
    assert_true(rg_wm_track(&wm, 0, 4, &x)); /* slot reused */
    rg_wm_fini(&wm);
}

static void test_stale_epoch_ignored(void **state)
{
    (void)state;
    struct rg_wm wm;
    assert_int_equal(rg_wm_init(&wm, 4), 0);
    rg_wm_token old, fresh;
    assert_true(rg_wm_track(&wm, 1, 50, &old));
    rg_wm_reset(&wm); /* revoked, then assigned again */
    assert_true(rg_wm_track(&wm, 1, 40, &fresh)); /* same slot index, new epoch */
    assert_false(rg_wm_done(&wm, old));           /* late report of the old epoch */
    assert_int_equal(rg_wm_advance(&wm), -1);
    assert_true(rg_wm_done(&wm, fresh));
    assert_int_equal(rg_wm_advance(&wm), 41);
    assert_false(rg_wm_done(&wm, fresh)); /* twice: ignored */
    assert_false(rg_wm_init(&wm, 3) == 0);
    rg_wm_fini(&wm);
}

struct marker {
    struct rg_wm *wm;
    rg_wm_token *tokens;
    int from, to;
};

static void *mark_range(void *arg)
{
    struct marker *m = arg;
    for (int i = m->to - 1; i >= m->from; i--) /* reverse order on purpose */
        rg_wm_done(m->wm, m->tokens[i]);
    return NULL;
}

static void test_concurrent_reports(void **state)
{
    (void)state;
    enum { N = 1 << 16 };
    struct rg_wm wm;
    assert_int_equal(rg_wm_init(&wm, N), 0);
    rg_wm_token *tokens = malloc(sizeof(*tokens) * N);
    for (int i = 0; i < N; i++)
        assert_true(rg_wm_track(&wm, 2, i * 2, &tokens[i]));
    pthread_t th[2];
    struct marker m[2] = { { &wm, tokens, 0, N / 2 }, { &wm, tokens, N / 2, N } };
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, mark_range, &m[i]);
    int64_t last = -1, moved;
    while (rg_wm_inflight(&wm) > 0) {
        if ((moved = rg_wm_advance(&wm)) >= 0) {
            assert_true(moved > last);
            last = moved;
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(last, (N - 1) * 2 + 1);
    free(tokens);
    rg_wm_fini(&wm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_out_of_order),
        cmocka_unit_test(test_gaps_in_offsets),
        cmocka_unit_test(test_full_means_backpressure),
        cmocka_unit_test(test_stale_epoch_ignored),
        cmocka_unit_test(test_concurrent_reports),
    };
    return cmocka_run_group_tests_name("watermark", tests, NULL, NULL);
}
