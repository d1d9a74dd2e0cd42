/* test_card.c - Luhn, card number detection and masking on raw bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/decode.h"

static void test_luhn(void **state)
{
    (void)state;
    const char *ok[] = { "4111111111111111", "5555555555554444", "378282246310005",
                         "4222222222222",    "6011111111111117", "3530111333300000",
                         "6221260000000000001", "0" };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_true(rg_luhn_ok(ok[i], strlen(ok[i])));
    assert_false(rg_luhn_ok("4111111111111112", 16));
    assert_false(rg_luhn_ok("4111111111111121", 16)); /* transposed */
    assert_false(rg_luhn_ok("", 0));
    assert_false(rg_luhn_ok(NULL, 3));
    assert_false(rg_luhn_ok("4111 1111", 9));
}

/* Mask s (a C string) and compare with want; also check the count and
 * that the length is unchanged. */
static void expect_mask(const char *s, int count, const char *want)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    assert_non_null(out);
    out[n] = '\0';
    int got = rg_card_mask(s, n, out);
    if (got != count || strcmp(out, want) != 0)
        print_error("in   %s\nout  %s\nwant %s (%d vs %d)\n", s, out, want, got, count);
    assert_int_equal(got, count);
    assert_string_equal(out, want);
    assert_int_equal(rg_card_count(s, n), count);
    /* in place gives the same */
    memcpy(out, s, n);
    assert_int_equal(rg_card_mask(out, n, out), count);
    assert_string_equal(out, want);
    free(out);
}

static void test_detect_and_mask(void **state)
{
    (void)state;
    /* plain, spaces, dashes, every length 13..19 */
    expect_mask("{\"pan\":\"4111111111111111\"}", 1, "{\"pan\":\"411111******1111\"}");
    expect_mask("{\"pan\":\"4111 1111 1111 1111\"}", 1, "{\"pan\":\"4111 11** **** 1111\"}");
    expect_mask("{\"pan\":\"5555-5555-5555-4444\"}", 1, "{\"pan\":\"5555-55**-****-4444\"}");
    expect_mask("\"4222222222222\"", 1, "\"422222***2222\"");
    expect_mask("\"378282246310005\"", 1, "\"378282*****0005\"");
    expect_mask("\"3782 822463 10005\"", 1, "\"3782 82**** *0005\"");
    expect_mask("\"6221260000000000001\"", 1, "\"622126*********0001\"");
    /* embedded in text, delimited by non-digits */
    expect_mask("{\"note\":\"paid with card:4111111111111111;thanks\"}", 1,
                "{\"note\":\"paid with card:411111******1111;thanks\"}");
    expect_mask("{\"note\":\"ref 12 4111 1111 1111 1111\"}", 1,
                "{\"note\":\"ref 12 4111 11** **** 1111\"}");
    /* two numbers, one key */
    expect_mask("{\"a\":\"4111111111111111\",\"5555555555554444\":\"x 6011111111111117\"}", 3,
                "{\"a\":\"411111******1111\",\"555555******4444\":\"x 601111******1117\"}");
    /* escaped quotes do not end the string */
    expect_mask("{\"a\":\"say \\\"4111111111111111\\\"\"}", 1,
                "{\"a\":\"say \\\"411111******1111\\\"\"}");
    /* invalid JSON: quoted regions are still strings */
    expect_mask("garbage \"4111111111111111", 1, "garbage \"411111******1111");
}

static void test_not_cards(void **state)
{
    (void)state;
    const char *no[] = {
        "{\"a\":\"4111111111111112\"}",       /* Luhn fails */
        "{\"a\":\"411111111117\"}",           /* 12 digits, Luhn ok */
        "{\"a\":\"41111111111111111115\"}",   /* 20 digits, Luhn ok */
        "{\"a\":\"711111111111113\"}",        /* first digit 7 */
        "{\"a\":\"1234123412341238\"}",       /* first digit 1 */
        "{\"ts\":4111111111111111}",          /* a JSON number */
        "{\"ts\":4111111111111111,\"x\":[5555555555554444]}",
        "{\"a\":\"4111  1111 1111 1111\"}",   /* double space splits the groups */
        "{\"a\":\"4111--1111-1111-1111\"}",
        "{\"a\":\"2026-11-28T10:00:00.123+01:00\"}",
        "",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        expect_mask(no[i], 0, no[i]);
    /* 4111111111111111 then an escaped 1: the run ends at the backslash, so
     * the 16 digits before it are a card */
    expect_mask("\"4111111111111111\\u0031\"", 1, "\"411111******1111\\u0031\"");
}

static void test_many_groups_linear(void **state)
{
    (void)state;
    /* "1 1 1 ... 1" inside a string: lots of groups, none a card */
    size_t n = 60000;
    char *s = malloc(n + 3);
    assert_non_null(s);
    s[0] = '"';
    for (size_t i = 1; i <= n; i++)
        s[i] = (i % 2) ? '1' : ' ';
    s[n + 1] = '"';
    s[n + 2] = '\0';
    assert_int_equal(rg_card_count(s, n + 2), 0);
    /* a very long digit string is one group: not a card */
    memset(s + 1, '4', n);
    assert_int_equal(rg_card_count(s, n + 2), 0);
    free(s);
}

static void test_mask_text(void **state)
{
    (void)state;
    /* a raw Kafka key is not JSON: no quotes needed */
    char out[64];
    const char *key = "4111111111111111";
    assert_int_equal(rg_card_mask(key, strlen(key), out), 0);
    assert_int_equal(rg_card_mask_text(key, strlen(key), out), 1);
    assert_memory_equal(out, "411111******1111", 16);
    const char *k2 = "user-5555 5555 5555 4444/\"x\"";
    assert_int_equal(rg_card_mask_text(k2, strlen(k2), out), 1);
    assert_memory_equal(out, "user-5555 55** **** 4444/\"x\"", strlen(k2));
    const char *k3 = "user-42 1795856400123";
    assert_int_equal(rg_card_mask_text(k3, strlen(k3), out), 0);
    assert_memory_equal(out, k3, strlen(k3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luhn),
        cmocka_unit_test(test_detect_and_mask),
        cmocka_unit_test(test_not_cards),
        cmocka_unit_test(test_many_groups_linear),
        cmocka_unit_test(test_mask_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
