// Block-tiled GEMM core of the GPU convolutions (conv2d_{fwd,dgrad,wgrad}_smem.comp):
//   acc = A * B over a BM x BN block of the product, K in steps of BK,
// both operands staged through shared memory, double-buffered: while the block multiplies
// stage t out of one buffer, each invocation already holds stage t+1's elements in registers
// (issued before the arithmetic, so the memory latency hides behind it) and writes them into
// the other buffer afterwards; one barrier per stage. Invocation (tx, ty) of the
// WGX x WGY workgroup owns rows ty*4 .. ty*4+3 of the block and the TN4 groups of 4 columns
// (tx + j*WGX)*4 .. +3, read from shared memory as vec4s.
//
// The including shader declares the specialization constants BM, BN, BK, TN4 before including
// this file, and defines
//   void load_stage(uint t)   read stage t (k from t*BK) of A and B into its registers
//   void store_stage(uint b)  write them with stage_a(b, k*BM + m, v) and stage_b(b, k*BN + n, v)
// then calls gemm_block(stages) and reads acc[][] (row ty*4+i, column group j).
// coopmat_gemm.glsl is the cooperative-matrix core with the same contract (-DCOOP builds).

const uint WGX = BN / (4u * TN4), WGY = BM / 4u, WG = WGX * WGY;

shared float As[2][BK * BM];
shared float Bs[2][BK * BN];

vec4 acc[4][TN4];

void load_stage(uint t);
void store_stage(uint b);

void stage_a(uint b, uint i, float v) { As[b][i] = v; }
void stage_b(uint b, uint i, float v) { Bs[b][i] = v; }

void gemm_block(uint stages)
{
    const uint tx = gl_LocalInvocationID.x % WGX, ty = gl_LocalInvocationID.x / WGX;
    [[unroll]] for (uint i = 0u; i < 4u; i++)
        [[unroll]] for (uint j = 0u; j < TN4; j++) acc[i][j] = vec4(0.0);
    if (stages == 0u) return;
    load_stage(0u);
    store_stage(0u);
    barrier();
    for (uint t = 0u; t < stages; t++) {
        const uint b = t & 1u;
        if (t + 1u < stages) load_stage(t + 1u);
        [[unroll]] for (uint k = 0u; k < BK; k++) {
            const uint ar = k * BM + ty * 4u;
            const vec4 a = vec4(As[b][ar], As[b][ar + 1u], As[b][ar + 2u], As[b][ar + 3u]);
            [[unroll]] for (uint j = 0u; j < TN4; j++) {
                const uint br = k * BN + (tx + j * WGX) * 4u;
                const vec4 bv = vec4(Bs[b][br], Bs[b][br + 1u], Bs[b][br + 2u], Bs[b][br + 3u]);
                [[unroll]] for (uint i = 0u; i < 4u; i++) acc[i][j] = fma(vec4(a[i]), bv, acc[i][j]);
            }
        }
        if (t + 1u < stages) store_stage(b ^ 1u);
        barrier();
    }
}
