/* test_util.h - helpers shared by the cmocka test binaries (header only). */
#ifndef RISKGATE_TEST_UTIL_H
#define RISKGATE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole file, NUL-terminated (caller frees); *len when len != NULL.
 * Fails the test when the file cannot be read. */
static inline char *rg_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

/* Call a subcommand's entry point (argv[0] = name) with the NULL-terminated
 * argument list that follows; returns its exit code. */
static inline int rg_test_run_cli(int (*entry)(int, char **), const char *name,
                                  const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)name;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return entry(argc, argv);
}

#endif
