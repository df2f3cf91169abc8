/* --profile (and vkclr bench train): GPU time per kernel class from timestamps recorded into
 * the step (run.h: Profile). The model times its own ops; the step adds the loss (L2 norm,
 * loss forward and backward), the optimizer and the whole step. Barriers around them make the
 * figures each class's own, at some cost to the step's speed: profiling is opt-in. */
#include <string.h>

#include "run.h"

/* Record timestamp `which` of slot s's step (nothing when profiling is off). */
void profile_mark(Run *r, VkcCmd *cmd, int s, int which)
{
    int *ts = r->prof.ts[s];
    if (!r->prof.on) {
        ts[which] = -1;
        return;
    }
    if (which != TS_STEP_BEGIN) vkc_cmd_barrier(cmd);
    ts[which] = vkc_cmd_timestamp(cmd);
    if (which == TS_OPTIM_END) ts[TS_STEP_END] = ts[which]; /* the optimizer ends the step */
}

static void add(Profile *p, const char *name, double ns)
{
    int i = 0;
    while (i < p->nclasses && strcmp(p->names[i], name)) i++;
    if (i == PROFILE_MAX_CLASSES) return; /* cannot happen: a handful of classes */
    if (i == p->nclasses) p->names[p->nclasses++] = name, p->ns[i] = 0;
    p->ns[i] += ns;
}

static double sum(const Profile *p)
{
    double total = 0;
    for (int i = 0; i < p->nclasses; i++) total += p->ns[i];
    return total;
}

/* Add one finished step's GPU times per kernel class (slot s). */
void profile_accumulate(Run *r, int s)
{
    Profile *p = &r->prof;
    if (!p->on) return;
    VkcCmd *cmd = &r->g.cmd[s];
    VkcModel *m = &r->g.model;
    const int *ts = p->ts[s];
    double ns;
    for (int i = 0; i < m->nops; i++) {
        if (!vkc_cmd_elapsed_ns(cmd, m->ts_fwd[i], m->ts_fwd[i + 1], &ns)) add(p, vkc_model_op_class(m, i), ns);
        int next = i == 0 ? m->ts_bwd[m->nops] : m->ts_bwd[i - 1];
        if (!vkc_cmd_elapsed_ns(cmd, m->ts_bwd[i], next, &ns)) add(p, vkc_model_op_class(m, i), ns);
    }
    if (!vkc_cmd_elapsed_ns(cmd, ts[TS_LOSS_BEGIN], ts[TS_LOSS_END], &ns)) add(p, "loss", ns);
    if (!vkc_cmd_elapsed_ns(cmd, ts[TS_OPTIM_BEGIN], ts[TS_OPTIM_END], &ns)) add(p, "optimizer", ns);
    if (!vkc_cmd_elapsed_ns(cmd, ts[TS_STEP_BEGIN], ts[TS_STEP_END], &ns)) p->step_ns += ns;
    p->steps++;
}

/* The time per step and the share of each class: into results.json, and printed. */
void profile_report(const Run *r, cJSON *results)
{
    const Profile *p = &r->prof;
    if (p->steps <= 0) return;
    double total = sum(p);
    cJSON_AddNumberToObject(results, "gpu_ms_per_step", p->step_ns / p->steps / 1e6);
    cJSON *share = cJSON_AddObjectToObject(results, "gpu_time_share");
    for (int i = 0; i < p->nclasses; i++) cJSON_AddNumberToObject(share, p->names[i], total > 0 ? p->ns[i] / total : 0);
    if (r->rv.quiet) return;
    printf("GPU time per step %.1f ms:", p->step_ns / p->steps / 1e6);
    for (int i = 0; i < p->nclasses; i++) printf(" %s %.1f%%", p->names[i], total > 0 ? 100 * p->ns[i] / total : 0);
    printf("\n");
}

/* The same for vkclr bench train. */
void profile_shares(const Profile *p, VkcTrainBench *out)
{
    double total = sum(p);
    if (p->steps > 0) out->gpu_ms_per_step = p->step_ns / p->steps / 1e6;
    for (int i = 0; i < p->nclasses && i < VKC_BENCH_MAX_CLASSES; i++) {
        out->class_names[i] = p->names[i];
        out->class_share[i] = total > 0 ? p->ns[i] / total : 0;
        out->nclasses = i + 1;
    }
}
