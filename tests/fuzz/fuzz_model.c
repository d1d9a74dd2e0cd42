/*
 * fuzz_model.c - fuzz the model loader (XGBoost JSON and riskgate-iforest
 * JSON) through rg_model_load_buf. A model that loads must also score a
 * few vectors (all missing, all zero, large values) without trouble, and
 * batch must agree with single scoring.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "riskgate/diag.h"
#include "riskgate/feature.h"
#include "riskgate/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_model *m = NULL;
    if (rg_model_load_buf((const char *)data, size, "fuzz.json", &d, &m) == 0) {
        double rows[3 * RG_FEAT_COUNT], out[3];
        for (int i = 0; i < RG_FEAT_COUNT; i++) {
            rows[i] = NAN;
            rows[RG_FEAT_COUNT + i] = 0.0;
            rows[2 * RG_FEAT_COUNT + i] = 1e300 * (i % 2 ? -1 : 1);
        }
        rg_model_score_batch(m, rows, 3, out);
        for (int r = 0; r < 3; r++) {
            double s = rg_model_score(m, rows + r * RG_FEAT_COUNT);
            if (!(s >= 0.0 && s <= 1.0) || s != out[r])
                __builtin_trap();
        }
        struct rg_model_info in;
        rg_model_get_info(m, &in);
        (void)rg_model_version(m);
        rg_model_free(m);
    }
    rg_diags_fini(&d);
    return 0;
}
