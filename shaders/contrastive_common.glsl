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
