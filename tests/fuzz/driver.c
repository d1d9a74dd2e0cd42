/*
 * driver.c - replays inputs through a fuzz target when no fuzzing engine
 * is linked (gcc builds). Each argument is a file or a directory of files;
 * with no argument it reads standard input. The target is the usual
 * LLVMFuzzerTestOneInput, so the same file builds with -fsanitize=fuzzer.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (run_path(p) == 0)
            count++;
    }
    closedir(d);
    return count > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        return run_file("/dev/stdin") == 0 ? 0 : 1;
    }
    for (int i = 1; i < argc; i++) {
        if (run_path(argv[i]) != 0) {
            fprintf(stderr, "fuzz driver: cannot read %s\n", argv[i]);
            return 1;
        }
    }
    printf("fuzz driver: replayed inputs without a crash\n");
    return 0;
}
