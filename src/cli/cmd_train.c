/* vkclr train: SimCLR training of an encoder, ending with the linear probe and kNN on its
 * features. Its options are the rows of vkc_train_options (src/ckpt/config.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "vkclr/fileio.h"
#include "vkclr/train.h"

static const char train_synopsis[] =
    "usage: vkclr train [OPTIONS]          train with the defaults: convnet on Fashion-MNIST, then probe + "
    "kNN; a few minutes on lavapipe\n"
    "       vkclr train --resume DIR [--epochs N] [--device N] ...\n";

typedef struct {
    char resume[CLI_PATH];
} TrainArgs;

static const VkcOption rows[] = {
    {.flag = "--resume", .type = VKC_OPT_STRING, VKC_OPTION_FIELD(TrainArgs, resume), .flags = VKC_OPT_NONEMPTY,
     .section = "continuing a run", .metavar = "DIR",
     .help = "continue the run saved in DIR bit-identically (its configuration is used; "
             "only the options listed below may change)"},
};

/* After the options: what a resumed run may change (the rows marked so), signals, errors. */
static void epilogue(FILE *out)
{
    fprintf(out, "\nA resumed run may change: ");
    bool first = true;
    for (int i = 0; i < vkc_train_noptions; i++)
        if (vkc_train_options[i].flags & VKC_OPT_RESUMABLE) {
            fprintf(out, "%s%s", first ? "" : ", ", vkc_train_options[i].flag);
            first = false;
        }
    fprintf(out,
            ".\nUnder mpirun, --batch is per rank: the global batch is B x R and the loss spans all of it.\n"
            "SIGINT/SIGTERM stop after the current step with a checkpoint (exit status 130); during set-up before\n"
            "anything is trained, during the final evaluation keeping the last checkpoint (--resume evaluates\n"
            "again). A resumed run's metrics.jsonl reads as an uninterrupted run's. A NaN or infinite loss stops\n"
            "the run naming the step and leaves the last epoch's checkpoint as it was (exit status 1). --out onto\n"
            "a directory that holds a run needs --force (or continue it with --resume).\n");
}

/* With --resume the configuration is the checkpoint's: refuse the options a resumed run
 * cannot change, saying what the run was trained with when the value differs. */
static int refuse_fixed_options(const char *resume, const VkcTrainConfig *c, const VkcGiven *given)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", resume);
    VkcTrainConfig saved;
    bool have_saved = vkc_checkpoint_read_config(path, &saved, NULL) == VKC_OK;
    for (int i = 0; i < vkc_train_noptions; i++) {
        const VkcOption *o = &vkc_train_options[i];
        if (!given->set[i] || (o->flags & VKC_OPT_RESUMABLE)) continue;
        if (have_saved && (o->flags & VKC_OPT_SAVED) && !vkc_option_equal(c, &saved, o)) {
            char want[600], was[600];
            vkc_option_format(c, o, want, sizeof want);
            vkc_option_format(&saved, o, was, sizeof was);
            fprintf(stderr, "vkclr train: %s %s: the run in %s was trained with %s %s; a resumed run keeps its "
                            "configuration (start a new run to change it)\n", o->flag, want, resume, o->flag, was);
            return 2;
        }
        fprintf(stderr, "vkclr train: %s: with --resume the run's configuration comes from %s; only the options "
                        "vkclr train --help lists as changeable may be given\n", o->flag, path);
        return 2;
    }
    return 0;
}

/* --out auto: a new directory runs/YYYYMMDD-HHMMSS (-2, -3, ... if taken), created here, and
 * runs/latest pointing at it (a symbolic link replaced atomically), so that every run keeps its
 * outputs and runs/latest is the newest. */
static int new_run_dir(char *out, size_t size)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (vkc_make_dirs("runs")) return VKC_ERR;
    for (int k = 1;; k++) {
        if (k == 1) snprintf(out, size, "runs/%s", stamp);
        else snprintf(out, size, "runs/%s-%d", stamp, k);
        if (!mkdir(out, 0777)) break;
        if (errno != EEXIST || k == 100) return vkc_fail("cannot create %s: %s", out, strerror(errno));
    }
    /* runs/latest -> the new directory (an older vkclr's real runs/latest directory is left alone). */
    const char *name = strchr(out, '/') + 1;
    struct stat st;
    if (lstat("runs/latest", &st) == 0 && !S_ISLNK(st.st_mode)) {
        fprintf(stderr, "vkclr train: runs/latest is a directory (of an older vkclr?), not updated; this run is %s\n", out);
        return VKC_OK;
    }
    remove("runs/latest.tmp");
    if (symlink(name, "runs/latest.tmp") || rename("runs/latest.tmp", "runs/latest"))
        fprintf(stderr, "vkclr train: could not point runs/latest at %s: %s\n", out, strerror(errno));
    return VKC_OK;
}

static int run(const CliCall *call)
{
    VkcTrainConfig c = *call->train;
    const VkcGiven given = call->args->train;
    const TrainArgs *args = call->own;
    const char *resume = args->resume[0] ? args->resume : NULL;
    if (resume) {
        int rc = refuse_fixed_options(resume, &c, &given);
        if (rc) return rc;
        /* The run's configuration with the changeable options given here (vkc_train_run takes
         * those from the configuration it is handed). */
        char path[1100];
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", resume);
        VkcTrainConfig saved;
        if (vkc_checkpoint_read_config(path, &saved, NULL)) return cli_fail(&cli_train, 1);
        for (int i = 0; i < vkc_train_noptions; i++)
            if (given.set[i]) vkc_option_copy(&saved, &c, &vkc_train_options[i]);
        if (!given.set[vkc_train_option("--out") - vkc_train_options]) saved.out[0] = 0; /* the run's own directory */
        c = saved;
    }
    if (!resume && !c.out[0] && new_run_dir(c.out, sizeof c.out)) return cli_fail(&cli_train, 1);
    if (vkc_config_check(&c, resume ? NULL : &given)) return cli_fail(&cli_train, 2);

    /* Under mpirun (OpenMPI, or a PMI launcher such as srun), one rank of a data-parallel run;
     * otherwise a single process that never initialises MPI. */
    bool launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
    if (launched && !vkc_dist_available()) {
        fprintf(stderr, "vkclr train: started by an MPI launcher, but this vkclr was built without MPI "
                        "(meson setup -Dmpi=enabled)\n");
        return 2;
    }
    if (launched && vkc_dist_init(&c.dist, NULL, NULL)) return cli_fail(&cli_train, 1);
    vkc_train_install_signal_handlers();
    VkcTrainResult res;
    int rc = vkc_train_run(&c, resume, NULL, NULL, &res);
    if (rc && c.dist.size > 1) fprintf(stderr, "vkclr train: rank %d of %d: %s\n", c.dist.rank, c.dist.size, vkc_error());
    else if (rc) fprintf(stderr, "vkclr train: %s\n", vkc_error());
    vkc_dist_finalize(&c.dist);
    if (rc) return 1;
    if (res.interrupted) return 130;
    return 0;
}

const CliSpec cli_train = {.name = "train", .run = run, .synopsis = train_synopsis,
                           .about = "train an encoder with SimCLR (no options: convnet on Fashion-MNIST, ~2 minutes "
                                    "on 2 CPU cores)",
                           CLI_ROWS(rows, TrainArgs), .train_rows = cli_all_rows, .own_rows_last = true,
                           .epilogue = epilogue};
