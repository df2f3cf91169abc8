#version 450
// kNN votes: each of a query's k neighbours (from knn_topk) adds exp(s / T) to the weight of
// its label; votes[q][c] is the total per class. Then
//   rank = #{c : v_c > v_y} + #{c < y : v_c == v_y}   (y the query's label; ties go to the lower class)
// and stats[q] = (rank == 0, rank < 5, predicted class, v_y). One invocation per query.
layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer Heap { uvec2 heap[]; };
layout(binding = 1, std430) readonly buffer BankLabels { uint bank_labels[]; };
layout(binding = 2, std430) readonly buffer QueryLabels { uint query_labels[]; };
layout(binding = 3, std430) buffer Votes { float votes[]; };
layout(binding = 4, std430) writeonly buffer Stats { vec4 stats[]; };

layout(push_constant) uniform Push {
    uint rows, k, classes, h_off, bl_off, ql_off, v_off, st_off;
    float inv_t;
} p;

void main()
{
    const uint q = gl_GlobalInvocationID.x;
    if (q >= p.rows) return;
    const uint v = p.v_off + q * p.classes;
    for (uint c = 0u; c < p.classes; c++) votes[v + c] = 0.0;
    for (uint i = 0u; i < p.k; i++) {
        const uvec2 e = heap[p.h_off + q * p.k + i];
        votes[v + bank_labels[p.bl_off + e.y]] += exp(uintBitsToFloat(e.x) * p.inv_t);
    }
    const uint y = query_labels[p.ql_off + q];
    const float vy = votes[v + y];
    uint rank = 0u, pred = 0u;
    float best = votes[v];
    for (uint c = 0u; c < p.classes; c++) {
        const float vc = votes[v + c];
        rank += (vc > vy || (vc == vy && c < y)) ? 1u : 0u;
        if (vc > best) best = vc, pred = c;
    }
    stats[p.st_off + q] = vec4(rank == 0u ? 1.0 : 0.0, rank < 5u ? 1.0 : 0.0, float(pred), vy);
}
