/* utf8.c - see include/riskgate/utf8.h. */
#include "riskgate/utf8.h"

void rg_utf8_trim_tail(char *s, size_t n)
{
    size_t j = n;
    while (j > 0 && n - j < 3 && ((unsigned char)s[j - 1] & 0xC0) == 0x80)
        j--;
    if (j == 0)
        return;
    unsigned char lead = (unsigned char)s[j - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (j - 1) < want)
        s[j - 1] = '\0';
}
