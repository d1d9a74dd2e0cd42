/* utf8.h - small UTF-8 helpers shared by the encoders. */
#ifndef RISKGATE_UTF8_H
#define RISKGATE_UTF8_H

#include <stddef.h>

/* s holds n bytes of a text that was cut at a byte limit: when the cut
 * fell inside a multi-byte sequence, end the string (NUL) before it, so a
 * truncated text never ends in half a character. @locality any thread. */
void rg_utf8_trim_tail(char *s, size_t n);

#endif
