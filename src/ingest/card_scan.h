/*
 * card_scan.h - private: the raw-bytes card number scanner behind
 * rg_card_mask(), with enough context for the decoder to say which field
 * held the number (never the digits).
 */
#ifndef RISKGATE_INGEST_CARD_SCAN_H
#define RISKGATE_INGEST_CARD_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Where the first card number was found. */
struct rg_card_hit {
    bool in_key;    /* the string holding it was an object key */
    int depth;      /* container depth of that string (root object = 1) */
    size_t key_off; /* raw bytes of the key the value belongs to ... */
    size_t key_len; /* ... 0 when unknown (array element, no key yet) */
};

/* Scan in[0..len); when out is non-NULL copy in to it with every card
 * number masked (out may equal in). first (may be NULL) describes the
 * first number found. Returns the number of card numbers found. */
int rg_card_scan(const char *in, size_t len, char *out, struct rg_card_hit *first);

#endif
