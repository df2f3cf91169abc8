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

const VkcCheck vkc_checks[] = {
    {"gemm/nn", check_gemm_nn, true},
    {"gemm/nt", check_gemm_nt, true},
    {"gemm/tn", check_gemm_tn, true},
    {"gemm/layouts", check_gemm_layouts, true},
    {"conv/forward", check_conv_forward, true},
    {"conv/backward-input", check_conv_backward_input, true},
    {"conv/backward-weight", check_conv_backward_weight, true},
    {"conv/reference-fd", check_conv_fd, false},
    {0, 0, 0},
};
