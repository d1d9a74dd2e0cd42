/*
 * fuzz_rules.c - rule files from arbitrary bytes: the loader must never
 * crash, leak or read out of bounds, whatever the input; a ruleset that
 * loads is then run over a few events so the compiled programs (stack
 * depth, jumps, guards, reason rendering) are exercised too.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "riskgate/feature.h"
#include "riskgate/rules.h"
#include "riskgate/verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ruleset *rs = NULL;
    /* A directory that does not exist: `file:` lists cannot reach real files. */
    if (rg_ruleset_load_buf((const char *)data, size, "/nonexistent/fuzz.yaml", &d, &rs) == 0) {
        static struct rg_txn txn;
        double feat[RG_FEAT_COUNT];
        uint32_t hits[RG_RULES_MAX];
        struct rg_verdict v;
        memset(&txn, 0, sizeof(txn));
        strcpy(txn.event_id, "e");
        strcpy(txn.user_id, "u");
        strcpy(txn.currency, "EUR");
        strcpy(txn.channel, "carrier_billing");
        strcpy(txn.country, "NG");
        txn.has = RG_HAS_CHANNEL | RG_HAS_COUNTRY;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < RG_FEAT_COUNT; i++)
                feat[i] = round == 0 ? NAN : round == 1 ? 0.0 : (double)(i * 7 % 13);
            txn.amount = round;
            memset(hits, 0, sizeof(hits));
            rg_verdict_reset(&v);
            struct rg_eval_ctx ctx = {.txn = &txn, .feat = feat,
                                      .score = round == 0 ? NAN : 0.3 * round,
                                      .anomaly = round == 2 ? 0.99 : NAN,
                                      .failed_step_ups_24h = round, .rule_hits = hits};
            rg_ruleset_decide(rs, &ctx, &v);
        }
        rg_ruleset_free(rs);
    }
    rg_diags_fini(&d);
    return 0;
}
