#version 450
// Mini-batch gather for the linear probe: dst row i = src row (idx[idx_base + i] - row0) for the
// indices that fall in this source shard [row0, row1); other rows are left to the dispatch of
// their own shard. Rows are 32-bit words (floats or uint labels), copied bit for bit.
// x runs along the row's words, y along the batch.
layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(binding = 0, std430) readonly buffer Idx { uint idx[]; };
layout(binding = 1, std430) readonly buffer Src { uint src[]; };
layout(binding = 2, std430) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform Push {
    uint rows, words, row0, row1, idx_base, idx_off, src_off, dst_off;
} p;

void main()
{
    const uint w = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
    if (w >= p.words || i >= p.rows) return;
    const uint r = idx[p.idx_off + p.idx_base + i];
    if (r < p.row0 || r >= p.row1) return;
    dst[p.dst_off + i * p.words + w] = src[p.src_off + (r - p.row0) * p.words + w];
}
