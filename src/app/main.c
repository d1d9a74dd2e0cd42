/*
 * main.c - the riskgate command line: one binary, subcommands.
 *
 *   riskgate run -c riskgate.yaml          the engine (Kafka in, verdicts out)
 *   riskgate check -c riskgate.yaml [--rules DIR] [--model FILE] [--anomaly FILE]
 *   riskgate rules test DIR | rules bench ...
 *   riskgate model inspect|score|bench ...
 *   riskgate replay --events FILE ...
 *   riskgate gen ...
 *   riskgate features                      the feature catalog reference
 *   riskgate config reference              the riskgate.yaml reference
 *   riskgate profile bench ...
 *   riskgate version
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/conf.h"
#include "riskgate/decider.h"
#include "riskgate/diag.h"
#include "riskgate/engine.h"
#include "riskgate/feature.h"
#include "riskgate/gen.h"
#include "riskgate/kafka_conf.h"
#include "riskgate/log.h"
#include "riskgate/model.h"
#include "riskgate/profile.h"
#include "riskgate/replay.h"
#include "riskgate/rules.h"
#include "riskgate/version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "riskgate %s - real-time fraud decisions for micropayment streams\n\n"
            "usage: riskgate <command> [options]\n\n"
            "  run -c riskgate.yaml             consume events, write verdicts (Ctrl-C drains)\n"
            "  check -c riskgate.yaml [--rules DIR] [--model FILE] [--anomaly FILE]\n"
            "                                   validate config, rules and models together\n"
            "  rules test DIR                   run the analysts' rule test cases\n"
            "  rules bench DIR|--synthetic N    rule evaluation cost per event\n"
            "  model inspect FILE               trees, depth, features, hash\n"
            "  model score --model F --input features.csv\n"
            "  model bench --model F [--json]   riskgate vs XGBoost's C API\n"
            "  replay --events F.jsonl [--feedback F.jsonl] [...]   backtest over files\n"
            "  gen [--out F.jsonl --feedback-out F.jsonl | --brokers H:P] [...]\n"
            "                                   synthetic micropayment traffic\n"
            "  features                         feature catalog reference\n"
            "  config reference                 riskgate.yaml reference\n"
            "  profile bench [...]              profile-store throughput against Redis\n"
            "  version\n",
            RISKGATE_VERSION);
}

static int load_conf(const char *path, struct rg_conf **out)
{
    struct rg_diags d;
    rg_diags_init(&d);
    int rc;
    if (path) {
        rc = rg_conf_load_file(path, &d, out);
    } else {
        *out = rg_conf_new_default();
        rc = *out ? rg_conf_apply_env(*out, &d) : -1;
        if (rc != 0) {
            rg_conf_free(*out);
            *out = NULL;
        }
    }
    if (rc != 0)
        rg_diags_print(&d, stderr);
    rg_diags_fini(&d);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    const char *cfg = NULL;
    static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
                                          { NULL, 0, NULL, 0 } };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (ch == 'c')
            cfg = optarg;
        else
            return 64;
    }
    struct rg_conf *c;
    if (load_conf(cfg, &c) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    int rc = rg_engine_run(c);
    rg_conf_free(c);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    const char *cfg = NULL, *rules = NULL, *model = NULL, *anomaly = NULL;
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "rules", required_argument, NULL, 'r' },
        { "model", required_argument, NULL, 'm' },  { "anomaly", required_argument, NULL, 'a' },
        { NULL, 0, NULL, 0 } };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:r:m:a:", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': cfg = optarg; break;
        case 'r': rules = optarg; break;
        case 'm': model = optarg; break;
        case 'a': anomaly = optarg; break;
        default: return 64;
        }
    }
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c = NULL;
    int rc = cfg ? rg_conf_load_file(cfg, &d, &c) : 0;
    if (!cfg) {
        c = rg_conf_new_default();
        if (c)
            rg_conf_apply_env(c, &d);
    }
    struct rg_decider *dc = NULL;
    if (c)
        rc |= rg_decider_load(c, rules, model, anomaly, &d, &dc);
    /* librdkafka's own check of the client properties, as `run` would
     * make it (it logs the property it refuses). */
    static const char *const no_guarantees[] = { NULL };
    static const struct { enum rg_kafka_scope scope; const char *name; } clients[] = {
        { RG_KAFKA_PRODUCER, "producer" }, { RG_KAFKA_CONSUMER, "consumer" } };
    for (size_t i = 0; c && i < sizeof(clients) / sizeof(clients[0]); i++) {
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        if (rg_kafka_conf_apply(kc, no_guarantees, c, clients[i].scope) != 0)
            rg_diags_add(&d, cfg ? cfg : "<defaults>", 0, 0, NULL,
                         "librdkafka refuses a property of the %s client (logged above)",
                         clients[i].name);
        rd_kafka_conf_destroy(kc);
    }
    if (d.n > 0) {
        rg_diags_print(&d, stderr);
        fprintf(stderr, "riskgate check: %zu problem(s)\n", d.n);
    } else {
        printf("riskgate check: ok (config %s, rules %s, model %s, anomaly %s)\n",
               cfg ? cfg : "<defaults>",
               dc && dc->rs ? rg_ruleset_version(dc->rs) : "none",
               dc && dc->model ? rg_model_version(dc->model) : "none",
               dc && dc->anomaly ? rg_model_version(dc->anomaly) : "none");
    }
    int bad = d.n > 0 || rc != 0;
    rg_decider_free(dc);
    rg_conf_free(c);
    rg_diags_fini(&d);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 64;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    /* Tools run by people print plain text, not JSON log lines. */
    rg_log_set_plain(1);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "rules"))
        return rg_rules_cli(argc - 1, argv + 1);
    if (!strcmp(cmd, "model"))
        return rg_model_cli(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen"))
        return rg_gen_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay"))
        return rg_replay_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "profile"))
        return rg_profile_cli(argc - 1, argv + 1);
    if (!strcmp(cmd, "features")) {
        rg_feature_print_reference(stdout);
        return 0;
    }
    if (!strcmp(cmd, "config") && argc > 2 && !strcmp(argv[2], "reference")) {
        rg_conf_print_reference(stdout);
        rg_kafka_conf_print_reference(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("riskgate %s\nlibrdkafka %s\n", RISKGATE_VERSION, rd_kafka_version_str());
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "riskgate: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 64;
}
