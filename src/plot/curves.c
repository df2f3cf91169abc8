/* Reading a run's metrics.jsonl into curves (vkclr/plot.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "vkclr/error.h"
#include "vkclr/fileio.h"
#include "vkclr/json.h"
#include "vkclr/plot.h"

/* The metrics.jsonl key of each curve. */
static const char *const curve_keys[VKC_CURVES] = {"loss", "pos_accuracy", "knn_top1", "lr", "mi_lower_bound"};

void vkc_plot_run_path(const char *run, char *path, char *name)
{
    struct stat st;
    bool file = stat(run, &st) == 0 && S_ISREG(st.st_mode);
    if (file) snprintf(path, 1100, "%s", run);
    else snprintf(path, 1100, "%s/metrics.jsonl", run);
    if (!name) return;
    /* The name: the run folder's last component ("runs/a/" -> "a", "runs/a/metrics.jsonl" -> "a"). */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", run);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = 0;
    if (file) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    if (!strcmp(base, ".") || !*base) {
        char *real = realpath(dir, NULL);
        const char *b = real ? strrchr(real, '/') : NULL;
        snprintf(name, 256, "%s", b && b[1] ? b + 1 : "run");
        free(real);
        return;
    }
    snprintf(name, 256, "%s", base);
}

static int series_add(VkcSeries *s, double step, double value)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        double *st = realloc(s->step, (size_t)cap * sizeof *st);
        if (!st) return vkc_fail("out of host memory");
        s->step = st;
        double *v = realloc(s->value, (size_t)cap * sizeof *v);
        if (!v) return vkc_fail("out of host memory");
        s->value = v;
        s->cap = cap;
    }
    s->step[s->n] = step;
    s->value[s->n] = value;
    s->n++;
    return VKC_OK;
}

void vkc_curves_free(VkcRunCurves *c)
{
    for (int k = 0; k < VKC_CURVES; k++) {
        free(c->curve[k].step);
        free(c->curve[k].value);
    }
    memset(c->curve, 0, sizeof c->curve);
    c->lines = c->skipped = c->lineno = 0;
}

/* One line: its step and the curves' values it holds. */
static int read_line(const char *path, int lineno, const char *text, VkcRunCurves *out)
{
    cJSON *j = cJSON_Parse(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return vkc_fail("%s line %d: not a JSON object", path, lineno);
    }
    char where[1200];
    snprintf(where, sizeof where, "%.1100s line %d", path, lineno);
    if (vkc_json_check_unique(j, where)) {
        cJSON_Delete(j);
        return VKC_ERR;
    }
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
    if (!cJSON_IsNumber(step)) {
        cJSON_Delete(j);
        return vkc_fail("%s line %d: no numeric \"step\"", path, lineno);
    }
    int rc = VKC_OK;
    for (int k = 0; k < VKC_CURVES && rc == VKC_OK; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, curve_keys[k]);
        if (cJSON_IsNumber(v)) rc = series_add(&out->curve[k], step->valuedouble, v->valuedouble);
        else if (cJSON_IsNull(v)) /* cJSON writes NaN as null */
            rc = series_add(&out->curve[k], step->valuedouble, NAN);
    }
    cJSON_Delete(j);
    out->lines++;
    return rc;
}

/* Lines of f from where it stands: into out, strict or tolerant (vkclr/plot.h); with
 * `complete_only` a last line without its newline is left unread (it is still being written).
 * *end gets the file offset after the last line taken. */
static int read_lines(FILE *f, const char *path, bool tolerant, bool complete_only, VkcRunCurves *out, long *end)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = VKC_OK;
    *end = ftell(f);
    while (rc == VKC_OK && (len = getline(&line, &cap, f)) >= 0) {
        if (complete_only && line[len - 1] != '\n') break;
        *end += len;
        out->lineno++;
        bool blank = true;
        for (ssize_t i = 0; i < len && blank; i++) blank = strchr(" \t\r\n", line[i]) != NULL;
        if (blank) continue;
        if (read_line(path, out->lineno, line, out)) {
            if (!tolerant) rc = VKC_ERR;
            else out->skipped++; /* a line left half-written by a crash */
        }
    }
    if (rc == VKC_OK && ferror(f)) rc = vkc_fail("reading %s: %s", path, strerror(errno));
    free(line);
    return rc;
}

int vkc_curves_read(const char *path, bool tolerant, VkcRunCurves *out)
{
    vkc_curves_free(out);
    FILE *f = vkc_fopen_regular(path, "rb");
    if (!f) return errno == EINVAL ? VKC_ERR : vkc_fail("cannot read %s: %s", path, strerror(errno));
    long end;
    int rc = read_lines(f, path, tolerant, false, out, &end);
    fclose(f);
    if (rc == VKC_OK && !tolerant && out->lines == 0) rc = vkc_fail("%s has no metrics lines", path);
    return rc;
}

int vkc_curves_follow(const char *path, long *offset, VkcRunCurves *c)
{
    FILE *f = vkc_fopen_regular(path, "rb");
    if (!f) return errno == EINVAL ? VKC_ERR : vkc_fail("cannot read %s: %s", path, strerror(errno));
    /* A file shorter than what was read is a new one (a resumed run rewrote it): start over. */
    if (fseek(f, 0, SEEK_END) || ftell(f) < *offset) {
        vkc_curves_free(c);
        *offset = 0;
    }
    int rc = fseek(f, *offset, SEEK_SET) ? vkc_fail("reading %s: %s", path, strerror(errno))
                                          : read_lines(f, path, true, true, c, offset);
    fclose(f);
    return rc;
}
