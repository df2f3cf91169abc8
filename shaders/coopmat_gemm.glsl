// Cooperative-matrix (tensor core) GEMM core: acc = A * B over a BM x BN block of the product,
// K in steps of BK, with 16-bit operands and float32 sums. The same contract as
// conv2d_smem.glsl, so one implicit-GEMM shader builds with either core (-DCOOP: this one):
// the including shader defines
//   void load_stage(uint t)   read stage t (k from t*BK) of A and B into its registers
//   void store_stage(uint b)  write them with stage_a(b, k*BM + m, v) and stage_b(b, k*BN + n, v)
// then calls gemm_block(stages) and reads acc[i][j]: row ty*4+i, columns (tx + j*WGX)*4 .. +3
// of the block (tx = invocation % WGX, ty = invocation / WGX), as from the shared-memory core.
//
// How: both operands are staged through shared memory as 16-bit values (rounded to nearest
// when stored), double-buffered as in conv2d_smem.glsl. The workgroup is WM x WN subgroups
// (whole subgroups of the device's size: the host makes local_size_x WM*WN*subgroup size, and
// pins that size where it varies); subgroup s owns a warp tile of TM x TN matrices of CM x CN
// (the device's shape, from vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR, never fixed
// here) at rows (s % WM)*TM*CM, columns (s / WM)*TN*CN, and multiplies CM x CK by CK x CN
// fragments loaded from the stage. At the end the accumulators go through shared memory (Cs,
// float32) into the per-invocation layout above, so the epilogues (bias, NCHW stores, split-K
// partial sums, batch-norm statistics) are the shared-memory kernels' own.
//
// Operands: fp16 (float16_t), or bf16 with COOP_BF16 (bfloat16_t, GL_EXT_bfloat16). Which
// build a kernel is (shaders/meson.build) follows its activations' dtype.
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#if defined(COOP_BF16) || defined(ACT_BF16)
#extension GL_EXT_bfloat16 : require
#define coop_t bfloat16_t
#else
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define coop_t float16_t
#endif

layout(constant_id = 6) const uint CM = 16;  // the device's matrix shape: A is CM x CK,
layout(constant_id = 7) const uint CN = 16;  // B is CK x CN, the accumulator CM x CN
layout(constant_id = 8) const uint CK = 16;
layout(constant_id = 9) const uint WM = 2;   // subgroups along M
layout(constant_id = 10) const uint WN = 2;  // ... and along N
layout(constant_id = 11) const uint TM = 2;  // matrices per subgroup along M
layout(constant_id = 12) const uint TN = 2;  // ... and along N
layout(constant_id = 13) const uint BK = 32; // K per stage (a multiple of CK)

const uint BM = WM * TM * CM, BN = WN * TN * CN;
const uint WG = gl_WorkGroupSize.x;
// The per-invocation hand-over layout: 4 rows x TN4 vec4 columns each (the host checks that
// BM*BN is a multiple of 16*WG and BN of 4*TN4).
const uint TN4 = BM * BN / (16u * WG);
const uint WGX = BN / (4u * TN4), WGY = BM / 4u;

shared coop_t As[2u * BK * BM]; // stage b: As[b*BK*BM + k*BM + m] (A column-major)
shared coop_t Bs[2u * BK * BN]; // stage b: Bs[b*BK*BN + k*BN + n] (B row-major)
shared float Cs[BM * BN];       // the block's sums, row-major, for the hand-over

vec4 acc[4][TN4];

void load_stage(uint t);
void store_stage(uint b);

void stage_a(uint b, uint i, float v) { As[b * BK * BM + i] = coop_t(v); }
void stage_b(uint b, uint i, float v) { Bs[b * BK * BN + i] = coop_t(v); }
// The block's sum at row m, column n (valid after gemm_block until the next one).
float block_sum(uint m, uint n) { return Cs[m * BN + n]; }

void gemm_block(uint stages)
{
    const uint wm0 = (gl_SubgroupID % WM) * TM * CM, wn0 = (gl_SubgroupID / WM) * TN * CN;
    coopmat<float, gl_ScopeSubgroup, CM, CN, gl_MatrixUseAccumulator> c[TM][TN];
    [[unroll]] for (uint i = 0u; i < TM; i++)
        [[unroll]] for (uint j = 0u; j < TN; j++)
            c[i][j] = coopmat<float, gl_ScopeSubgroup, CM, CN, gl_MatrixUseAccumulator>(0.0);
    if (stages > 0u) {
        load_stage(0u);
        store_stage(0u);
        barrier();
    }
    for (uint t = 0u; t < stages; t++) {
        const uint b = t & 1u;
        if (t + 1u < stages) load_stage(t + 1u);
        [[unroll]] for (uint k = 0u; k < BK; k += CK) {
            coopmat<coop_t, gl_ScopeSubgroup, CM, CK, gl_MatrixUseA> fa[TM];
            coopmat<coop_t, gl_ScopeSubgroup, CK, CN, gl_MatrixUseB> fb[TN];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                coopMatLoad(fa[i], As, b * BK * BM + k * BM + wm0 + i * CM, BM, gl_CooperativeMatrixLayoutColumnMajor);
            [[unroll]] for (uint j = 0u; j < TN; j++)
                coopMatLoad(fb[j], Bs, b * BK * BN + k * BN + wn0 + j * CN, BN, gl_CooperativeMatrixLayoutRowMajor);
            [[unroll]] for (uint i = 0u; i < TM; i++)
                [[unroll]] for (uint j = 0u; j < TN; j++) c[i][j] = coopMatMulAdd(fa[i], fb[j], c[i][j]);
        }
        if (t + 1u < stages) store_stage(b ^ 1u);
        barrier();
    }
    [[unroll]] for (uint i = 0u; i < TM; i++)
        [[unroll]] for (uint j = 0u; j < TN; j++)
            coopMatStore(c[i][j], Cs, (wm0 + i * CM) * BN + wn0 + j * CN, BN, gl_CooperativeMatrixLayoutRowMajor);
    barrier();
    const uint tx = gl_LocalInvocationID.x % WGX, ty = gl_LocalInvocationID.x / WGX;
    [[unroll]] for (uint i = 0u; i < 4u; i++)
        [[unroll]] for (uint j = 0u; j < TN4; j++) {
            const uint at = (ty * 4u + i) * BN + (tx + j * WGX) * 4u;
            acc[i][j] = vec4(Cs[at], Cs[at + 1u], Cs[at + 2u], Cs[at + 3u]);
        }
}
