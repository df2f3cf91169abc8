/* Every kernel check, in the order `vkclr selftest` runs them. Add new checks here. */
#include "vkclr/check.h"

int check_gemm_nn(VkcContext *ctx, VkcCheckResult *r);
int check_gemm_nt(VkcContext *ctx, VkcCheckResult *r);
int check_gemm_tn(VkcContext *ctx, VkcCheckResult *r);
int check_gemm_layouts(VkcContext *ctx, VkcCheckResult *r);
int check_conv_forward(VkcContext *ctx, VkcCheckResult *r);
int check_conv_backward_input(VkcContext *ctx, VkcCheckResult *r);
int check_conv_backward_weight(VkcContext *ctx, VkcCheckResult *r);
int check_conv_fd(VkcContext *ctx, VkcCheckResult *r);
int check_bn_forward(VkcContext *ctx, VkcCheckResult *r);
int check_bn_backward(VkcContext *ctx, VkcCheckResult *r);
int check_bn_fd(VkcContext *ctx, VkcCheckResult *r);
int check_act_relu_forward(VkcContext *ctx, VkcCheckResult *r);
int check_act_relu_backward(VkcContext *ctx, VkcCheckResult *r);
int check_add(VkcContext *ctx, VkcCheckResult *r);
int check_pool_max_forward(VkcContext *ctx, VkcCheckResult *r);
int check_pool_max_backward(VkcContext *ctx, VkcCheckResult *r);
int check_pool_avg_forward(VkcContext *ctx, VkcCheckResult *r);
int check_pool_avg_backward(VkcContext *ctx, VkcCheckResult *r);
int check_elem_fd(VkcContext *ctx, VkcCheckResult *r);
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
int check_nce_self_normalised(VkcContext *ctx, VkcCheckResult *r);
int check_nce_learned_logz(VkcContext *ctx, VkcCheckResult *r);
int check_nce_stability(VkcContext *ctx, VkcCheckResult *r);
int check_nce_fd(VkcContext *ctx, VkcCheckResult *r);
int check_dcl_shapes(VkcContext *ctx, VkcCheckResult *r);
int check_dcl_debiased(VkcContext *ctx, VkcCheckResult *r);
int check_dcl_stability(VkcContext *ctx, VkcCheckResult *r);
int check_dcl_fd(VkcContext *ctx, VkcCheckResult *r);
int check_metrics_ntxent(VkcContext *ctx, VkcCheckResult *r);
int check_metrics_closed_form(VkcContext *ctx, VkcCheckResult *r);
int check_metrics_parse(VkcContext *ctx, VkcCheckResult *r);
int check_xent_shapes(VkcContext *ctx, VkcCheckResult *r);
int check_xent_fd(VkcContext *ctx, VkcCheckResult *r);
int check_optim_sgd(VkcContext *ctx, VkcCheckResult *r);
int check_optim_lars(VkcContext *ctx, VkcCheckResult *r);
int check_optim_adamw(VkcContext *ctx, VkcCheckResult *r);
int check_knn(VkcContext *ctx, VkcCheckResult *r);
int check_probe_reference(VkcContext *ctx, VkcCheckResult *r);

const VkcCheck vkc_checks[] = {
    {"gemm/nn", check_gemm_nn, true},
    {"gemm/nt", check_gemm_nt, true},
    {"gemm/tn", check_gemm_tn, true},
    {"gemm/layouts", check_gemm_layouts, true},
    {"conv/forward", check_conv_forward, true},
    {"conv/backward-input", check_conv_backward_input, true},
    {"conv/backward-weight", check_conv_backward_weight, true},
    {"conv/reference-fd", check_conv_fd, false},
    {"bn/forward", check_bn_forward, true},
    {"bn/backward", check_bn_backward, true},
    {"bn/reference-fd", check_bn_fd, false},
    {"act/relu-forward", check_act_relu_forward, true},
    {"act/relu-backward", check_act_relu_backward, true},
    {"act/residual-add", check_add, true},
    {"pool/max-forward", check_pool_max_forward, true},
    {"pool/max-backward", check_pool_max_backward, true},
    {"pool/avg-forward", check_pool_avg_forward, true},
    {"pool/avg-backward", check_pool_avg_backward, true},
    {"pool/reference-fd", check_elem_fd, false},
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
    {"nce/self-normalised", check_nce_self_normalised, true},
    {"nce/learned-logz", check_nce_learned_logz, true},
    {"nce/stability", check_nce_stability, true},
    {"nce/finite-diff", check_nce_fd, false},
    {"dcl/shapes", check_dcl_shapes, true},
    {"dcl/debiased", check_dcl_debiased, true},
    {"dcl/stability", check_dcl_stability, true},
    {"dcl/finite-diff", check_dcl_fd, false},
    {"metrics/ntxent", check_metrics_ntxent, true},
    {"metrics/closed-form", check_metrics_closed_form, false},
    {"metrics/loss-names", check_metrics_parse, false},
    {"xent/shapes", check_xent_shapes, true},
    {"xent/finite-diff", check_xent_fd, false},
    {"optim/sgd", check_optim_sgd, true},
    {"optim/lars", check_optim_lars, true},
    {"optim/adamw", check_optim_adamw, true},
    {"eval/knn", check_knn, true},
    {"eval/probe-reference", check_probe_reference, true},
    {0, 0, 0},
};
