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
    {0, 0, 0},
};
