// Shared by the NCE-family kernels (nce_*, dcl_*, dcl_debiased_*, contrastive_*).
// Batches hold 2N embeddings; row i's positive is row (i + N) mod 2N, the self-pair j = i is
// never a candidate, and the other K = 2N - 2 rows are the noise (negative) samples of anchor i.

uint positive_of(uint i, uint n2)
{
    const uint half_n = n2 / 2u;
    return i < half_n ? i + half_n : i - half_n;
}

// softplus(x) = log(1 + e^x) = -log sigmoid(-x), as max(x, 0) + log(1 + e^-|x|): the exponent
// is <= 0, so nothing overflows however large |x| (up to 2/tau + |log Z|) gets.
float softplus(float x) { return max(x, 0.0) + log(1.0 + exp(-abs(x))); }

// sigmoid(x) = 1 / (1 + e^-x) without overflow: e^-|x| <= 1 on both branches.
float sigmoid(float x)
{
    const float e = exp(-abs(x));
    return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// The interface every loss of the family shares, so that src/loss/contrastive.c binds and
// pushes the same things for each (a loss is its two kernels and one table row there):
//   rows kernel (#define LOSS_ROWS):  0 S (r32f logits z z^T / tau), 1 LogZ (r32f, 1 float),
//                                     2 Rows (one vec4 per anchor, written; offset 0)
//   grad kernel (#define LOSS_GRAD):  0 S, 1 LogZ, 2 Rows (rgba32f, read at rows_off texels),
//                                     3 G (the symmetrised logit gradient, written at g_off)
// A kernel reads only what its loss needs; LogZ holds the learned log Z of nce when learned != 0.
#if defined(LOSS_ROWS) || defined(LOSS_GRAD)
layout(binding = 0) uniform TEXELS S;
layout(binding = 1) uniform TEXELS LogZ;
#ifdef LOSS_ROWS
layout(binding = 2, std430) writeonly buffer RowsOut { vec4 rows[]; };
#else
layout(binding = 2) uniform TEXELS Rows;
layout(binding = 3, std430) writeonly buffer G { float g[]; };
#endif
layout(push_constant) uniform LossPush {
    uint n2;       // 2N anchors
    uint s_off;    // element offset of S in its view
    uint rows_off; // texel offset of Rows (grad kernels)
    uint logz_off; // element offset of LogZ
    uint g_off;    // element offset of G (grad kernels)
    uint learned;  // nce: log Z is LogZ[logz_off] (else 0)
    float inv_tau; // 1 / tau
    float scale;   // 1 / (2N tau): the mean over anchors and S's 1/tau (grad kernels)
    float tau_plus; // dcl-debiased: the class prior
} p;
#endif
