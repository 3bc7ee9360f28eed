/* trainwell statistics kernels: every per-layer statistic of a float32 CPU tensor in one pass.
 *
 * Built and loaded by trainwell/diagnostics/native/build.py (cc -O3 -march=native, cached per
 * machine); used by trainwell.diagnostics.capture.LayerStats on CPU. Each function reads memory
 * the caller owns and writes its results into caller-provided buffers: no allocation, no state.
 *
 * Moments use the shifted-data algorithm: with k = the first element (0 if it is not finite),
 *     S1 = Σ(y − k),  S2 = Σ(y − k)²,  Σy = S1 + n·k,  M2 = Σ(y − mean)² = S2 − S1²/n,
 * which stays accurate when |mean| ≫ std (y − k is small, and exact for y within 2× of k).
 * The sums run in float32 SIMD lanes, flushed into double accumulators every FLUSH elements
 * (rounding error ≲ FLUSH/LANES·2⁻²⁴ relative per block, summed in double).
 * Non-finite input: Σy and M2 come out NaN/inf as the arithmetic gives; if any element is NaN,
 * min and max are NaN (as torch.aminmax), and so is the saturated count.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX__)
#define LANES 8
#else
#define LANES 4
#endif
#define FLUSH 512

typedef float vf __attribute__((vector_size(LANES * 4)));
typedef int32_t vi __attribute__((vector_size(LANES * 4)));

static inline vf load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline vf splat(float x) { vf v = {0}; return v + x; }
/* min/max that keep the accumulator when v is NaN (NaN is detected separately) */
static inline vf vmin(vf v, vf acc) { vi m = v < acc; return (vf)(((vi)v & m) | ((vi)acc & ~m)); }
static inline vf vmax(vf v, vf acc) { vi m = v > acc; return (vf)(((vi)v & m) | ((vi)acc & ~m)); }

typedef struct {
    double s1, s2; /* Σ(y − k), Σ(y − k)² */
    float lo, hi;  /* min, max of the non-NaN elements seen */
} acc_t;

/* Adds p[0..m) to *a (shift k). */
static void moments(const float *p, int64_t m, float k, acc_t *a) {
    const vf kv = splat(k);
    vf lo0 = splat(a->lo), lo1 = lo0, hi0 = splat(a->hi), hi1 = hi0;
    int64_t i = 0;
    while (m - i >= 2 * LANES) {
        int64_t end = i + FLUSH < m ? i + FLUSH : m;
        vf s0 = {0}, s1 = {0}, q0 = {0}, q1 = {0};
        for (; i + 2 * LANES <= end; i += 2 * LANES) {
            vf v0 = load(p + i), v1 = load(p + i + LANES);
            vf d0 = v0 - kv, d1 = v1 - kv;
            s0 += d0; s1 += d1;
            q0 += d0 * d0; q1 += d1 * d1;
            lo0 = vmin(v0, lo0); lo1 = vmin(v1, lo1);
            hi0 = vmax(v0, hi0); hi1 = vmax(v1, hi1);
        }
        vf s = s0 + s1, q = q0 + q1;
        double ds = 0, dq = 0;
        for (int l = 0; l < LANES; l++) { ds += s[l]; dq += q[l]; }
        a->s1 += ds; a->s2 += dq;
    }
    float lo = a->lo, hi = a->hi;
    for (int l = 0; l < LANES; l++) {
        lo = lo0[l] < lo ? lo0[l] : lo; lo = lo1[l] < lo ? lo1[l] : lo;
        hi = hi0[l] > hi ? hi0[l] : hi; hi = hi1[l] > hi ? hi1[l] : hi;
    }
    for (; i < m; i++) {
        float v = p[i], d = v - k;
        a->s1 += d; a->s2 += (double)d * d;
        lo = v < lo ? v : lo; hi = v > hi ? v : hi;
    }
    a->lo = lo; a->hi = hi;
}

static float shift_of(const float *p) { return isfinite(p[0]) ? p[0] : 0.0f; }

static int has_nan(const float *p, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (p[i] != p[i]) return 1;
    return 0;
}

/* Number of elements in the flat tails: kind 2 (tanh) |y| > 0.99, kind 3 (sigmoid) |y − ½| > 0.49. */
static int64_t saturated(const float *p, int64_t m, int kind) {
    int64_t count = 0;
    if (kind == 2) {
        for (int64_t i = 0; i < m; i++) count += fabsf(p[i]) > 0.99f;
    } else {
        for (int64_t i = 0; i < m; i++) count += fabsf(p[i] - 0.5f) > 0.49f;
    }
    return count;
}

/* Activation statistics of an output y whose memory is rows × cols floats (rows = examples, each
 * example's cols = units × positions values contiguous, in any order within the example: unit u,
 * position p at u·unit_step + p·position_step — (positions, 1) for NCHW, (1, units) for
 * channels-last). Σ, M2, min, max and the saturated count do not depend on the order.
 *
 * layout (int64[11], fixed per layer, shape and strides): rows, cols, kind, units, scratch address,
 * count, width, sample address, offsets address, unit_step, position_step.
 * out[0] Σy, out[1] M2, out[2] min, out[3] max, out[4] the kind's count:
 *   kind 1 (ReLU family): units whose maximum over every example and position is ≤ 0
 *            (`scratch` holds cols floats: the per-position maxima over the examples);
 *   kind 2/3 (tanh/sigmoid): saturated elements; kind 0: 0.
 * sample[i] = y[offsets[i]] for i < count (the memory offsets of the logical sample), y[0] after. */
void tw_activation(const float *y, const int64_t *layout, double *out) {
    const int64_t rows = layout[0], cols = layout[1], units = layout[3];
    const int64_t count = layout[5], width = layout[6], unit_step = layout[9], position_step = layout[10];
    const int kind = (int)layout[2];
    float *scratch = (float *)(intptr_t)layout[4];
    float *sample = (float *)(intptr_t)layout[7];
    const int64_t *offsets = (const int64_t *)(intptr_t)layout[8];
    const int64_t n = rows * cols;
    const float k = shift_of(y);
    acc_t a = {0.0, 0.0, k, k};
    double extra = 0.0;
    if (kind == 1) {
        /* a row at a time: the moments and the per-position maxima read it while it is in cache */
        const int by_row = cols >= 8 * LANES; /* short rows: one flat pass, then the maxima */
        if (!by_row) moments(y, n, k, &a);
        memcpy(scratch, y, (size_t)cols * sizeof(float));
        if (by_row) moments(y, cols, k, &a);
        for (int64_t r = 1; r < rows; r++) {
            const float *row = y + r * cols;
            if (by_row) moments(row, cols, k, &a);
            for (int64_t j = 0; j < cols; j++) {
                float v = row[j], m = scratch[j];
                scratch[j] = (v > m || v != v) ? v : m; /* NaN sticks: such a unit is not dead */
            }
        }
        const int64_t positions = cols / units;
        int64_t dead = 0;
        for (int64_t u = 0; u < units; u++) {
            const float *pm = scratch + u * unit_step;
            int alive = 0;
            for (int64_t j = 0; j < positions; j++) alive |= !(pm[j * position_step] <= 0.0f);
            dead += !alive;
        }
        extra = (double)dead;
    } else if (kind == 2 || kind == 3) {
        int64_t sat = 0;
        for (int64_t i = 0; i < n; i += 4096) { /* count each block while it is in cache */
            int64_t m = n - i < 4096 ? n - i : 4096;
            moments(y + i, m, k, &a);
            sat += saturated(y + i, m, kind);
        }
        extra = (double)sat;
    } else {
        moments(y, n, k, &a);
    }
    out[0] = a.s1 + (double)n * k;
    out[1] = a.s2 - a.s1 * a.s1 / (double)(n > 0 ? n : 1);
    out[2] = a.lo;
    out[3] = a.hi;
    out[4] = extra;
    if (!isfinite(a.s1) && has_nan(y, n)) {
        out[2] = out[3] = NAN;
        if (kind == 2 || kind == 3) out[4] = NAN;
    }
    for (int64_t i = 0; i < count; i++) sample[i] = y[offsets[i]];
    for (int64_t i = count; i < width; i++) sample[i] = y[0];
}

/* out[0] = Σx, out[1] = M2 = Σ(x − mean)² of p[0..n). */
void tw_moments(const float *p, int64_t n, double *out) {
    if (n == 0) { out[0] = out[1] = 0.0; return; }
    const float k = shift_of(p);
    acc_t a = {0.0, 0.0, k, k};
    moments(p, n, k, &a);
    out[0] = a.s1 + (double)n * k;
    out[1] = a.s2 - a.s1 * a.s1 / (double)n;
}

/* Histograms of `rows` samples: row r is rowp[r][0..sizes[r]), binned over [lo[r·step], hi[r·step]]
 * into counts[r·bins .. (r + 1)·bins) (overwritten). In float32 arithmetic, as
 * trainwell.diagnostics.stats.histograms_host: z = (y − lo)·scale with scale = bins/(hi − lo)
 * (spread at least FLT_MIN, scale at most 1e30), bin ⌊z⌋ clamped to [0, bins − 1]; NaN → bin 0. */
void tw_histograms(const float *const *rowp, int64_t rows, const int64_t *sizes, const double *lo, const double *hi,
                   int64_t step, int64_t bins, int64_t *counts) {
    for (int64_t r = 0; r < rows; r++) {
        const float *s = rowp[r];
        int64_t *c = counts + r * bins;
        memset(c, 0, (size_t)bins * sizeof(int64_t));
        const float lo32 = (float)lo[r * step];
        float spread = (float)hi[r * step] - lo32;
        if (!(spread >= 1.17549435e-38f)) spread = spread != spread ? spread : 1.17549435e-38f;
        double wide = (double)bins / (double)spread;
        const float scale = wide != wide ? NAN : (float)(wide < 1e30 ? wide : 1e30);
        const float top = (float)(bins - 1);
        for (int64_t i = 0; i < sizes[r]; i++) {
            float z = (s[i] - lo32) * scale;
            z = z > 0.0f ? z : 0.0f; /* NaN → 0 */
            z = z < top ? z : top;
            c[(int64_t)z]++;
        }
    }
}

/* Σ (p − q)² of p[0..m), q[0..m), or Σ p² when q is NULL: the difference in float32, the squares
 * in float32 lanes flushed into double every FLUSH elements. */
static double sumsq(const float *p, const float *q, int64_t m) {
    double total = 0.0;
    int64_t i = 0;
    while (m - i >= LANES) {
        int64_t end = i + FLUSH < m ? i + FLUSH : m;
        vf acc = {0};
        for (; i + LANES <= end; i += LANES) {
            vf d = q ? load(p + i) - load(q + i) : load(p + i);
            acc += d * d;
        }
        for (int l = 0; l < LANES; l++) total += acc[l];
    }
    for (; i < m; i++) {
        double d = q ? (double)p[i] - q[i] : (double)p[i];
        total += d * d;
    }
    return total;
}

/* The parameter numbers of one sampled step, before the optimizer step (one call):
 * out[3i] = Σ g_i², out[3i + 1] = Σ w_i², and snapshot_i ← w_i (read while w_i is in cache). */
void tw_param_stats(int64_t count, const float *const *grads, const float *const *weights,
                    float *const *snapshots, const int64_t *lens, double *out) {
    for (int64_t t = 0; t < count; t++) {
        out[3 * t] = sumsq(grads[t], NULL, lens[t]);
        out[3 * t + 1] = sumsq(weights[t], NULL, lens[t]);
        memcpy(snapshots[t], weights[t], (size_t)lens[t] * sizeof(float));
    }
}

/* After the optimizer step: out[3i + 2] = Σ (snapshot_i − w_i)², then every entry of out[0..3·count)
 * replaced by its square root — ‖g‖, ‖w‖, ‖Δw‖ per parameter. */
void tw_param_finish(int64_t count, const float *const *snapshots, const float *const *weights, const int64_t *lens,
                     double *out) {
    for (int64_t t = 0; t < count; t++) out[3 * t + 2] = sumsq(snapshots[t], weights[t], lens[t]);
    for (int64_t i = 0; i < 3 * count; i++) out[i] = sqrt(out[i]);
}

/* ABI version: build.py refuses a library whose version differs from the Python side's. */
int tw_version(void) { return 6; }
