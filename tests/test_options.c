/* The option tables: vkclr train's (vkclr/config.h): every row's default is valid, every saved
 * option survives config.json, a value outside a row's range is refused in the same words from
 * the command line and from a configuration file (naming the file and the key), and the
 * commands that share a row (train, probe, export) refuse the same values. Every other command's
 * and benchmark's own rows (src/cli/cli.h): defaults valid, flags unique, ends of each range
 * taken and a step beyond refused naming the flag, enum names parsed back, and through the
 * binary each command refuses what its rows refuse and lists them in --help. With the path of
 * the built binary as argument, the command-line half runs too. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "fixtures.h"
#include "vkclr/config.h"

static const char *vkclr_binary;

static void test_defaults_valid(void **state)
{
    (void)state;
    VkcTrainConfig c = vkc_train_defaults();
    if (vkc_config_check(&c, NULL)) fail_msg("defaults: %s", vkc_error());
    /* Flags and keys are unique. */
    for (int i = 0; i < vkc_train_noptions; i++)
        for (int j = i + 1; j < vkc_train_noptions; j++) {
            const VkcOption *a = &vkc_train_options[i], *b = &vkc_train_options[j];
            if (a->flag && b->flag) assert_string_not_equal(a->flag, b->flag);
            if (a->key && b->key) assert_string_not_equal(a->key, b->key);
        }
}

/* Every saved option, set away from its default, comes back from config.json. */
static void test_json_round_trip(void **state)
{
    (void)state;
    VkcTrainConfig c = vkc_train_defaults();
    c.limit = 777, c.model.encoder = VKC_ENCODER_RESNET18, c.model.width = 24, c.model.head_layers = 3;
    c.model.head_hidden = 99, c.model.out_dim = 64, c.model.channels = 3, c.model.height = 32, c.model.width_px = 30;
    c.batch = 96, c.epochs = 7, c.optimizer = VKC_OPTIM_ADAMW, c.lr = 0.0123f, c.lr_scaling = VKC_LR_SQRT;
    c.weight_decay = 0.05f, c.warmup_epochs = 1.5f, c.temperature = 0.3f, c.loss = VKC_LOSS_NCE;
    c.nce_learned_logz = true, c.seed = 123456789012345ull, c.threads = 3, c.log_every = 5, c.knn_k = 20;
    c.knn_temperature = 0.07f, c.knn_bank = 300, c.knn_every = 2, c.probe_epochs = 4, c.probe_limit = 1000;
    c.ranks = 4, c.sync_bn = 1;
    snprintf(c.data, sizeof c.data, "cifar10:/somewhere");
    snprintf(c.preset, sizeof c.preset, "cifar");
    snprintf(c.aug, sizeof c.aug, "blur_p=0.5");
    char *json = vkc_config_to_json(&c, false);
    VkcTrainConfig back;
    if (vkc_config_from_json(json, "config.json", &back)) fail_msg("%s", vkc_error());
    free(json);
    for (int i = 0; i < vkc_train_noptions; i++) {
        const VkcOption *o = &vkc_train_options[i];
        if (!(o->flags & VKC_OPT_SAVED)) continue;
        if (!vkc_option_equal(&c, &back, o)) fail_msg("%s did not survive config.json", o->key);
    }
    assert_true(back.model.loss_logz);
    /* The automatic value of a switch ("auto", -1) is not "off" after a round trip (fuzz_config
     * found a configuration without sync_bn, which reads as auto, written back as false). */
    c = vkc_train_defaults();
    assert_int_equal(c.sync_bn, -1);
    json = vkc_config_to_json(&c, false);
    if (vkc_config_from_json(json, "config.json", &back)) fail_msg("%s", vkc_error());
    free(json);
    assert_int_equal(back.sync_bn, -1);
}

/* A JSON document of the defaults with one key replaced. */
static char *json_with(const char *key, cJSON *value)
{
    VkcTrainConfig c = vkc_train_defaults();
    char *text = vkc_config_to_json(&c, false);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cJSON_ReplaceItemInObjectCaseSensitive(j, key, value);
    text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

/* Each numeric row: its ends are taken, a step beyond either end is refused by the flag and by
 * the file in the same words; a fraction for an integer and a number that does not fit the
 * field (1e300) are refused, never cast. */
static void test_ranges_agree(void **state)
{
    (void)state;
    int rows = 0;
    for (int i = 0; i < vkc_train_noptions; i++) {
        const VkcOption *o = &vkc_train_options[i];
        if (o->type != VKC_OPT_INT && o->type != VKC_OPT_U64 && o->type != VKC_OPT_FLOAT) continue;
        double step = o->type == VKC_OPT_FLOAT ? fmax(fabs(o->max) * 1e-3, 1e-6) : 1;
        double bad[4] = {o->min - step, o->max + step, 1e300, o->type == VKC_OPT_FLOAT ? NAN : o->min + 0.5};
        for (int k = 0; k < 4; k++) {
            if (o->auto_name && bad[k] == o->auto_value) continue; /* the automatic value is allowed */
            if (isnan(bad[k]) && o->type == VKC_OPT_FLOAT) continue;
            char text[64];
            snprintf(text, sizeof text, "%.17g", bad[k]);
            VkcTrainConfig c = vkc_train_defaults();
            if (o->flag) {
                if (vkc_option_set(&c, o, text) != VKC_ERR) fail_msg("%s %s was accepted", o->flag, text);
                if (!strstr(vkc_error(), o->flag)) fail_msg("%s %s: '%s' does not name the flag", o->flag, text, vkc_error());
            }
            if (o->flags & VKC_OPT_SAVED) {
                char *json = json_with(o->key, cJSON_CreateNumber(bad[k]));
                VkcTrainConfig d;
                if (vkc_config_from_json(json, "run/config.json", &d) != VKC_ERR)
                    fail_msg("config.json %s = %s was accepted", o->key, text);
                char want[128];
                snprintf(want, sizeof want, "run/config.json: configuration key '%s'", o->key);
                if (!strstr(vkc_error(), want)) fail_msg("'%s' does not name the file and key", vkc_error());
                free(json);
            }
        }
        char lo[64], hi[64];
        snprintf(lo, sizeof lo, "%.17g", o->min);
        snprintf(hi, sizeof hi, "%.17g", o->max);
        VkcTrainConfig c = vkc_train_defaults();
        if (o->flag && (vkc_option_set(&c, o, lo) || vkc_option_set(&c, o, hi)))
            fail_msg("%s refused an end of its range: %s", o->flag, vkc_error());
        rows++;
    }
    printf("%d numeric options: ends taken, values beyond refused by flag and file alike\n", rows);
}

/* Enum rows: every name, aliases included, parses to a value whose canonical name parses back
 * to it; a near miss is refused, by the flag and by the file. */
static void test_enums(void **state)
{
    (void)state;
    for (int i = 0; i < vkc_train_noptions; i++) {
        const VkcOption *o = &vkc_train_options[i];
        if (o->type != VKC_OPT_ENUM) continue;
        for (const VkcName *n = o->names; n->name; n++) {
            VkcTrainConfig c = vkc_train_defaults();
            if (vkc_option_set(&c, o, n->name)) fail_msg("%s %s: %s", o->flag, n->name, vkc_error());
            char canon[64];
            vkc_option_format(&c, o, canon, sizeof canon);
            VkcTrainConfig d = vkc_train_defaults();
            assert_int_equal(vkc_option_set(&d, o, canon), VKC_OK);
            assert_true(vkc_option_equal(&c, &d, o));
        }
        VkcTrainConfig c = vkc_train_defaults();
        assert_int_equal(vkc_option_set(&c, o, "Bogus"), VKC_ERR);
        assert_non_null(strstr(vkc_error(), o->flag));
        char *json = json_with(o->key, cJSON_CreateString("Bogus"));
        assert_int_equal(vkc_config_from_json(json, "x.json", &c), VKC_ERR);
        assert_non_null(strstr(vkc_error(), o->key));
        free(json);
    }
}

/* Wrong JSON types and missing keys are refused by name; keys added later may be missing. */
static void test_json_types(void **state)
{
    (void)state;
    VkcTrainConfig c;
    char *json = json_with("width", cJSON_CreateString("16"));
    assert_int_equal(vkc_config_from_json(json, "f.json", &c), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "'width' is not a number"));
    free(json);
    json = json_with("sync_bn", cJSON_CreateNumber(1));
    assert_int_equal(vkc_config_from_json(json, "f.json", &c), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "'sync_bn' is not true or false"));
    free(json);
    assert_int_equal(vkc_config_from_json("{\"data\": \"fashion-mnist\"}", "old.json", &c), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "old.json: configuration key 'limit' is missing"));
    assert_int_equal(vkc_config_from_json("[1, 2]", "list.json", &c), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "list.json"));
    /* A configuration written before the loss could be chosen has none: ntxent, one rank. */
    VkcTrainConfig d = vkc_train_defaults();
    char *text = vkc_config_to_json(&d, false);
    cJSON *j = cJSON_Parse(text);
    free(text);
    static const char *later[] = {"loss", "nce_logz", "tau_plus", "ranks", "sync_bn", "knn_every", "probe_limit"};
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) cJSON_DeleteItemFromObjectCaseSensitive(j, later[i]);
    text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (vkc_config_from_json(text, "old.json", &c)) fail_msg("%s", vkc_error());
    assert_int_equal(c.loss, VKC_LOSS_NTXENT);
    assert_int_equal(c.ranks, 1);
    free(text);
}

/* The rules between options hold for a configuration from any source. */
static void test_cross_rules(void **state)
{
    (void)state;
    VkcTrainConfig c = vkc_train_defaults();
    c.tau_plus = 0.1f;
    assert_int_equal(vkc_config_check(&c, NULL), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "--tau-plus is only used by --loss dcl-debiased"));
    c.loss = VKC_LOSS_DCL_DEBIASED;
    assert_int_equal(vkc_config_check(&c, NULL), VKC_OK);
    c.tau_plus = 1.0f;
    assert_int_equal(vkc_config_check(&c, NULL), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "--tau-plus must be below 1"));
    c = vkc_train_defaults();
    c.nce_learned_logz = true;
    assert_int_equal(vkc_config_check(&c, NULL), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "--nce-logz"));
    c = vkc_train_defaults();
    c.stop_after = c.epochs;
    assert_int_equal(vkc_config_check(&c, NULL), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "--stop-after"));
    /* --snapshot-minutes: increasing positive minutes. */
    c = vkc_train_defaults();
    double m[4];
    snprintf(c.snapshots, sizeof c.snapshots, "1,2.5,60");
    assert_int_equal(vkc_config_snapshots(&c, m, 4), 3);
    assert_true(m[0] == 1 && m[1] == 2.5 && m[2] == 60);
    static const char *bad[] = {"3,2", "0", "1,,2", "1;2", "-1", "2,x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(c.snapshots, sizeof c.snapshots, "%s", bad[i]);
        assert_int_equal(vkc_config_check(&c, NULL), VKC_ERR);
        assert_non_null(strstr(vkc_error(), "--snapshot-minutes"));
    }
}

/* The command line: train, probe and export refuse the values of the rows they share in the
 * same words, and every command refuses a flag given twice. */
static void expect(const char *args, int status, const char *needle)
{
    char out[8192];
    int got = fixture_run(vkclr_binary, args, out, sizeof out);
    if (got != status || !strstr(out, needle))
        fail_msg("'vkclr %s' gave status %d (want %d), output:\n%s\n(want '%s')", args, got, status, out, needle);
}

static void test_commands_agree(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    static const char *cmds[] = {"train", "probe --random-init", "export --random-init --features /tmp/x.npy"};
    static const struct {
        const char *args, *needle;
    } bad[] = {
        {"--width 0", "--width: 0 is out of range [1, 1024]"},
        {"--width 1025", "--width: 1025 is out of range [1, 1024]"},
        {"--width 4.5", "--width: 4.5 is not an integer"},
        {"--encoder vgg", "--encoder: unknown encoder 'vgg' (convnet, resnet10, resnet18, resnet34)"},
        {"--seed -1", "--seed: -1 is out of range"},
        {"--seed 1e300", "--seed: 1.0000000000000001e+300 is out of range"},
        {"--device -2", "--device: -2 is out of range"},
        {"--data ''", "--data: empty value"},
        {"--width 4 --width 8", "--width given twice"},
    };
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++)
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            char args[512];
            snprintf(args, sizeof args, "%s %s", cmds[c], bad[b].args);
            expect(args, 2, bad[b].needle);
        }
    expect("train --resume /tmp/a --resume /tmp/b", 2, "--resume given twice");
    expect("train --optimizer adam", 2, "--optimizer: unknown optimizer 'adam' (lars, sgd, adamw)");
    expect("train --lr-scaling cubic", 2, "--lr-scaling: 'cubic' is neither linear nor sqrt");
    expect("train --help", 0, "--knn-temperature T");
    expect("probe --help", 0, "--width W");
}

/* ---------------------------------------------------------------- every command's rows */

/* Every command and benchmark, each once. */
static int all_specs(const CliSpec **out)
{
    int n = 0;
    for (int i = 0; cli_commands[i]; i++) out[n++] = cli_commands[i];
    for (int i = 0; cli_benches[i]; i++) out[n++] = cli_benches[i];
    return n;
}

/* Values beyond a numeric row's range (and a fraction for an integer row), as text. */
static int beyond(const VkcOption *o, char text[3][64])
{
    double step = o->type == VKC_OPT_FLOAT ? fmax(fabs(o->max) * 1e-3, 1e-6) : 1;
    double bad[3] = {o->min - step, o->max + step, o->type == VKC_OPT_FLOAT ? o->max * 10 + 1 : o->min + 0.5};
    int n = 0;
    for (int k = 0; k < 3; k++)
        if (!(o->auto_name && bad[k] == o->auto_value))
            snprintf(text[n++], 64, "%.17g", bad[k]);
    return n;
}

static void test_command_tables(void **state)
{
    (void)state;
    const CliSpec *specs[64];
    int nspecs = all_specs(specs), rows = 0;
    for (int c = 0; c < nspecs; c++) {
        const CliSpec *s = specs[c];
        assert_true(s->nrows <= VKC_MAX_OPTIONS);
        void *own = s->size ? calloc(1, s->size) : NULL, *scratch = s->size ? calloc(1, s->size) : NULL;
        cli_defaults(s, own);
        for (int i = 0; i < s->nrows; i++) {
            const VkcOption *o = &s->rows[i];
            if (!o->flag || !o->section || (!o->help && o->type != VKC_OPT_ENUM))
                fail_msg("vkclr %s: row %d lacks a flag, a section or help", s->name, i);
            if (o->offset + o->size > s->size) fail_msg("vkclr %s %s: field outside the struct", s->name, o->flag);
            if (vkc_option_check(own, o)) fail_msg("vkclr %s: the default of %s: %s", s->name, o->flag, vkc_error());
            /* Unique among the command's flags, its own and the training options it takes. */
            for (int j = i + 1; j < s->nrows; j++) assert_string_not_equal(o->flag, s->rows[j].flag);
            const VkcOption *t = vkc_train_option(o->flag);
            if (s->train_rows && t && s->train_rows(t))
                fail_msg("vkclr %s: %s is both its own option and vkclr train's", s->name, o->flag);
            if (o->type == VKC_OPT_ENUM) {
                for (const VkcName *n = o->names; n->name; n++) {
                    memcpy(scratch, own, s->size);
                    if (vkc_option_set(scratch, o, n->name)) fail_msg("%s %s: %s", o->flag, n->name, vkc_error());
                    assert_int_equal(vkc_option_int(scratch, o), n->value);
                }
                assert_int_equal(vkc_option_set(scratch, o, "Bogus"), VKC_ERR);
                assert_non_null(strstr(vkc_error(), o->flag));
            }
            if (o->type != VKC_OPT_INT && o->type != VKC_OPT_U64 && o->type != VKC_OPT_FLOAT) continue;
            char lo[64], hi[64], bad[3][64];
            snprintf(lo, sizeof lo, "%.17g", o->min);
            snprintf(hi, sizeof hi, "%.17g", o->max);
            memcpy(scratch, own, s->size);
            if (vkc_option_set(scratch, o, lo) || vkc_option_set(scratch, o, hi))
                fail_msg("vkclr %s %s refused an end of its range: %s", s->name, o->flag, vkc_error());
            for (int k = 0, n = beyond(o, bad); k < n; k++) {
                if (vkc_option_set(scratch, o, bad[k]) != VKC_ERR) fail_msg("vkclr %s %s %s was accepted", s->name, o->flag, bad[k]);
                if (!strstr(vkc_error(), o->flag)) fail_msg("'%s' does not name %s", vkc_error(), o->flag);
            }
            rows++;
        }
        free(own);
        free(scratch);
    }
    printf("%d commands and benchmarks, %d numeric rows of their own: ends taken, values beyond refused\n", nspecs, rows);
}

/* Through the binary: each command refuses a value beyond each of its numeric rows and a flag
 * given twice, naming the flag, and its --help lists every row. */
static void test_command_lines(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    const CliSpec *specs[64];
    int nspecs = all_specs(specs);
    for (int c = 0; c < nspecs; c++) {
        const CliSpec *s = specs[c];
        char args[512], out[16384], want[128];
        snprintf(args, sizeof args, "%s --help", s->name);
        if (fixture_run(vkclr_binary, args, out, sizeof out) != 0) fail_msg("'vkclr %s' failed:\n%s", args, out);
        for (int i = 0; i < s->nrows; i++)
            if (!strstr(out, s->rows[i].flag)) fail_msg("'vkclr %s' does not list %s:\n%s", args, s->rows[i].flag, out);
        snprintf(args, sizeof args, "%s --no-such-option", s->name);
        expect(args, 2, "unknown ");
        for (int i = 0; i < s->nrows; i++) {
            const VkcOption *o = &s->rows[i];
            if (o->type != VKC_OPT_INT && o->type != VKC_OPT_U64 && o->type != VKC_OPT_FLOAT) continue;
            char bad[3][64];
            for (int k = 0, n = beyond(o, bad); k < n; k++) {
                snprintf(args, sizeof args, "%s %s %s", s->name, o->flag, bad[k]);
                snprintf(want, sizeof want, "vkclr %s: %s: ", s->name, o->flag);
                expect(args, 2, want);
            }
            snprintf(args, sizeof args, "%s %s %.17g %s %.17g", s->name, o->flag, o->max, o->flag, o->max);
            snprintf(want, sizeof want, "%s given twice", o->flag);
            expect(args, 2, want);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) vkclr_binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_valid), cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_ranges_agree),   cmocka_unit_test(test_enums),
        cmocka_unit_test(test_json_types),     cmocka_unit_test(test_cross_rules),
        cmocka_unit_test(test_commands_agree), cmocka_unit_test(test_command_tables),
        cmocka_unit_test(test_command_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
