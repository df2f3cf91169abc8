#version 450
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
// kNN top-k selection: for query row q of a similarity chunk S (rows x n raw dot products),
// the k bank entries with the highest cosine similarity s_j = S[q][j] * qinv[q] * binv[j].
// Order: higher s first, equal s: lower index first, so the selected set does not depend on
// the scan. One invocation per query keeps a k-entry binary min-heap (root: the worst kept
// entry) in `heap` as (similarity bits, index) pairs, starting from sentinels (-inf, ~0u) that
// every real entry beats; k <= n is the caller's job. The heap is left unsorted.
layout(local_size_x_id = 0) in;

layout(binding = 0) uniform TEXELS S; // r32f, rows x n
layout(binding = 1, std430) readonly buffer QInv { float qinv[]; };
layout(binding = 2, std430) readonly buffer BInv { float binv[]; };
layout(binding = 3, std430) buffer Heap { uvec2 heap[]; };

layout(push_constant) uniform Push {
    uint rows, n, k, s_off, q_off, b_off, h_off;
} p;

// Is (sa, ia) worse than (sb, ib)?
bool worse(float sa, uint ia, float sb, uint ib) { return sa < sb || (sa == sb && ia > ib); }

void main()
{
    const uint q = gl_GlobalInvocationID.x;
    if (q >= p.rows) return;
    const uint h = p.h_off + q * p.k;
    const float neg_inf = uintBitsToFloat(0xff800000u);
    for (uint i = 0u; i < p.k; i++) heap[h + i] = uvec2(floatBitsToUint(neg_inf), 0xffffffffu);
    float root_s = neg_inf;
    uint root_i = 0xffffffffu;
    const float qs = qinv[p.q_off + q];
    const uint row = p.s_off + q * p.n;
    for (uint j = 0u; j < p.n; j++) {
        const float s = texel(S, int(row + j)).r * qs * binv[p.b_off + j];
        if (!worse(root_s, root_i, s, j)) continue;
        // Replace the root and sift down.
        uint at = 0u;
        for (;;) {
            const uint l = 2u * at + 1u, r = l + 1u;
            if (l >= p.k) break;
            uint c = l;
            uvec2 cl = heap[h + l];
            float cs = uintBitsToFloat(cl.x);
            uint ci = cl.y;
            if (r < p.k) {
                const uvec2 cr = heap[h + r];
                if (worse(uintBitsToFloat(cr.x), cr.y, cs, ci)) c = r, cs = uintBitsToFloat(cr.x), ci = cr.y;
            }
            if (!worse(cs, ci, s, j)) break;
            heap[h + at] = uvec2(floatBitsToUint(cs), ci);
            at = c;
        }
        heap[h + at] = uvec2(floatBitsToUint(s), j);
        const uvec2 top = heap[h];
        root_s = uintBitsToFloat(top.x), root_i = top.y;
    }
}
