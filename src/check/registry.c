/* Every kernel check, in the order `vkclr selftest` runs them. Add new checks here. */
#include "vkclr/check.h"

int check_gemm_nn(VkcContext *ctx, VkcCheckResult *r);
int check_gemm_nt(VkcContext *ctx, VkcCheckResult *r);
int check_gemm_tn(VkcContext *ctx, VkcCheckResult *r);
int check_gemm_layouts(VkcContext *ctx, VkcCheckResult *r);
int check_reduce_colsum(VkcContext *ctx, VkcCheckResult *r);
int check_reduce_deterministic(VkcContext *ctx, VkcCheckResult *r);
int check_linear_forward(VkcContext *ctx, VkcCheckResult *r);
int check_linear_backward(VkcContext *ctx, VkcCheckResult *r);
int check_linear_fd(VkcContext *ctx, VkcCheckResult *r);
int check_l2norm(VkcContext *ctx, VkcCheckResult *r);
int check_l2norm_fd(VkcContext *ctx, VkcCheckResult *r);
int check_ntxent_shapes(VkcContext *ctx, VkcCheckResult *r);
int check_ntxent_stability(VkcContext *ctx, VkcCheckResult *r);
int check_ntxent_fd(VkcContext *ctx, VkcCheckResult *r);
int check_xent_shapes(VkcContext *ctx, VkcCheckResult *r);
int check_xent_fd(VkcContext *ctx, VkcCheckResult *r);
int check_optim_sgd(VkcContext *ctx, VkcCheckResult *r);
int check_optim_lars(VkcContext *ctx, VkcCheckResult *r);
int check_optim_adamw(VkcContext *ctx, VkcCheckResult *r);

const VkcCheck vkc_checks[] = {
    {"gemm/nn", check_gemm_nn, true},
    {"gemm/nt", check_gemm_nt, true},
    {"gemm/tn", check_gemm_tn, true},
    {"gemm/layouts", check_gemm_layouts, true},
    {"reduce/colsum", check_reduce_colsum, true},
    {"reduce/deterministic", check_reduce_deterministic, true},
    {"linear/forward", check_linear_forward, true},
    {"linear/backward", check_linear_backward, true},
    {"linear/finite-diff", check_linear_fd, false},
    {"l2norm/forward-backward", check_l2norm, true},
    {"l2norm/finite-diff", check_l2norm_fd, false},
    {"ntxent/shapes", check_ntxent_shapes, true},
    {"ntxent/stability", check_ntxent_stability, true},
    {"ntxent/finite-diff", check_ntxent_fd, false},
    {"xent/shapes", check_xent_shapes, true},
    {"xent/finite-diff", check_xent_fd, false},
    {"optim/sgd", check_optim_sgd, true},
    {"optim/lars", check_optim_lars, true},
    {"optim/adamw", check_optim_adamw, true},
    {0, 0, 0},
};
