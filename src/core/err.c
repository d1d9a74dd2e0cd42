/* err.c - text and classification of enum rg_err. */
#include "riskgate/err.h"

const char *rg_err_str(int err)
{
    switch (err) {
#define RG_ERR_CASE(name, val, msg, retry) case val: return msg;
    RG_ERR_LIST(RG_ERR_CASE)
#undef RG_ERR_CASE
    }
    return "unknown error";
}

bool rg_err_is_retriable(int err)
{
    switch (err) {
#define RG_ERR_CASE(name, val, msg, retry) case val: return retry;
    RG_ERR_LIST(RG_ERR_CASE)
#undef RG_ERR_CASE
    }
    return false;
}
