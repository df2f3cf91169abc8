#version 450
// Backward of y = x / n, n = max(||x||, eps), row by row:
//   n = ||x|| > eps:  dx = (dy - y (y . dy)) / n     (the gradient loses its radial part)
//   otherwise:        dx = dy / eps                  (n is the constant eps there)
// The norm is recomputed from x rather than stored: one more pass over a row that is in cache.
layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer X { float x[]; };
layout(binding = 1, std430) readonly buffer DY { float dy[]; };
layout(binding = 2, std430) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
    uint rows, dim, x_off, dy_off, dx_off;
    float eps;
} p;

void main()
{
    const uint r = gl_GlobalInvocationID.x;
    if (r >= p.rows) return;
    const uint xr = p.x_off + r * p.dim, gr = p.dy_off + r * p.dim, dr = p.dx_off + r * p.dim;
    float ss = 0.0, xdy = 0.0;
    for (uint d = 0; d < p.dim; d++) {
        ss = fma(x[xr + d], x[xr + d], ss);
        xdy = fma(x[xr + d], dy[gr + d], xdy);
    }
    const float n = sqrt(ss);
    if (n > p.eps) {
        const float inv = 1.0 / n;
        const float radial = xdy * inv * inv; // (y . dy) / n
        for (uint d = 0; d < p.dim; d++) dx[dr + d] = (dy[gr + d] - x[xr + d] * radial) * inv;
    } else {
        for (uint d = 0; d < p.dim; d++) dx[dr + d] = dy[gr + d] / p.eps;
    }
}
