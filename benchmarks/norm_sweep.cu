// Variant sweep of the row-norm group kernel (csrc/common/rownorm.cuh) on the narrow-row shapes
// of benchmarks/norms.py, beside a device copy of the same bytes, plus the production dispatch
// (rownorm::launch) on every shape, plain and fused with a residual add. Each variant's output
// is checked against a float64 reference kernel before it is timed.
//
// Build one translation unit per I/O type (-DSWEEP_T=0/1/2: float/half/bfloat16) and run:
//   nvcc -O3 -std=c++17 -arch=sm_90 -DSWEEP_T=1 -Icsrc/common benchmarks/norm_sweep.cu -o sweep1
//   ./sweep1            (prints one line per variant: case, variant, µs, GB/s, % of copy)
// benchmarks/norm_sweep.sh builds the three in parallel and runs them.
#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "rownorm.cuh"

using namespace trtforge;
using namespace trtforge::rownorm;

#if SWEEP_T == 0
using T = float;
static const char* kName = "float32";

#elif SWEEP_T == 1
using T = __half;
static const char* kName = "float16";

#else
using T = __nv_bfloat16;
static const char* kName = "bfloat16";

#endif

#define CK(x)                                                                        \
  do {                                                                               \
    cudaError_t e_ = (x);                                                            \
    if (e_ != cudaSuccess) {                                                         \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                  \
    }                                                                                \
  } while (0)

// float64 reference, one thread per row; writes float32.
template <bool kRMS, bool kSkip>
__global__ void refKernel(Params p, float* out, float* sumOut) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (row >= p.rows) return;
  const T* x = static_cast<const T*>(p.x) + row * p.cols;
  const T* sk = kSkip ? static_cast<const T*>(p.skip) + (row % p.skipRows) * p.cols : nullptr;
  const T* bias = static_cast<const T*>(p.bias);
  auto val = [&](int64_t j) -> double {
    if (!kSkip) return toF(x[j]);
    // the kernels normalize the sum rounded to T
    return toF(fromF<T>(toF(x[j]) + toF(sk[j]) + (bias ? toF(bias[j]) : 0.f)));
  };
  double s = 0, q = 0;
  for (int64_t j = 0; j < p.cols; ++j) s += val(j);
  const double mean = kRMS ? 0.0 : s / p.cols;
  for (int64_t j = 0; j < p.cols; ++j) {
    const double d = val(j) - mean;
    q += d * d;
  }
  const double rstd = 1.0 / sqrt(q / p.cols + p.eps);
  const T* g = static_cast<const T*>(p.gamma);
  const T* b = static_cast<const T*>(p.beta);
  for (int64_t j = 0; j < p.cols; ++j) {
    double v = (val(j) - mean) * rstd * toF(g[j]);
    if (!kRMS) v += toF(b[j]);
    out[row * p.cols + j] = static_cast<float>(v);
    if (kSkip) sumOut[row * p.cols + j] = static_cast<float>(val(j));
  }
}


__global__ void fillRandom(T* a, int64_t n, uint32_t seed, float scale, float shift) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 15; h *= 2246822519u; h ^= h >> 13; h *= 3266489917u; h ^= h >> 16;
    const float u = (h & 0xffffff) / 16777216.f;  // [0,1)
    a[i] = fromF<T>((u - 0.5f) * 3.46f * scale + shift);
  }
}

struct Case {
  int64_t rows, cols;
};

struct Bufs {
  std::vector<T*> x, y, skip, sum;
  T *g, *b, *bias;
  int nbuf;
};

static float timeIt(const std::function<void(int)>& fn, int nbuf, int batches = 15,
                    int reps = 20) {
  for (int i = 0; i < 3; ++i) fn(i % nbuf);
  CK(cudaDeviceSynchronize());
  cudaEvent_t s, e;
  CK(cudaEventCreate(&s));
  CK(cudaEventCreate(&e));
  std::vector<float> times;
  int k = 0;
  for (int bt = 0; bt < batches; ++bt) {
    CK(cudaEventRecord(s));
    for (int r = 0; r < reps; ++r) fn(k++ % nbuf);
    CK(cudaEventRecord(e));
    CK(cudaEventSynchronize(e));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, s, e));
    times.push_back(ms * 1000.f / reps);
  }
  CK(cudaGetLastError());
  std::sort(times.begin(), times.end());
  cudaEventDestroy(s);
  cudaEventDestroy(e);
  return times[times.size() / 2];
}

__global__ void errKernel(const T* y, const float* ref, const T* sum, const float* refSum,
                          int64_t n, double* acc) {
  double num = 0, den = 0, bad = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const double d = double(toF(y[i])) - ref[i];
    if (!(d == d)) bad += 1;  // NaN: an unwritten (poisoned) element
    else num += d * d;
    den += double(ref[i]) * ref[i];
    if (sum && toF(sum[i]) != refSum[i]) bad += 1;  // the sum must be bit-exact
  }
  atomicAdd(&acc[0], num);
  atomicAdd(&acc[1], den);
  atomicAdd(&acc[2], bad);
}

// Relative L2 error of y against the reference (1e9 if any element is unwritten or a sum
// element differs).
template <bool kRMS, bool kSkip>
static double check(const Params& p, float* ref, float* refSum, double* acc) {
  refKernel<kRMS, kSkip><<<(p.rows + 127) / 128, 128>>>(p, ref, refSum);
  CK(cudaGetLastError());
  CK(cudaMemset(acc, 0, 3 * sizeof(double)));
  errKernel<<<1024, 256>>>(static_cast<const T*>(p.y), ref,
                           kSkip ? static_cast<const T*>(p.sum) : nullptr, refSum,
                           p.rows * p.cols, acc);
  double h[3];
  CK(cudaMemcpy(h, acc, sizeof h, cudaMemcpyDeviceToHost));
  if (h[2] > 0) return 1e9;
  return std::sqrt(h[0] / h[1]);
}

using LaunchFn2 = cudaError_t (*)(const Params&, int, int, cudaStream_t);

struct Variant {
  int nv, r, minb, cachew;
  LaunchFn2 ln, rms;
};

template <int NV, int R, int MINB, int C = 1>
Variant mk() {
  constexpr int V = 16 / sizeof(T);
  return {NV, R, MINB, C, &launchGroup<T, T, false, false, V, NV, R, MINB, C>,
          &launchGroup<T, T, true, false, V, NV, R, MINB, C>};
}

int main(int argc, char** argv) {
  const std::vector<Case> all = {{32768, 768}, {16384, 4096}, {8192, 8192}, {65536, 1024},
                                 {262144, 128}};
  // weights: 1 = registers, 0 = re-read per row, 2 = shared memory (float32)
  const std::vector<Variant> variants = {
      mk<2, 1, 1, 0>(), mk<2, 1, 1, 1>(), mk<2, 1, 1, 2>(), mk<4, 1, 1, 0>(), mk<4, 1, 1, 2>(),
      mk<3, 1, 1, 0>(), mk<3, 1, 1, 1>(), mk<3, 1, 1, 2>(), mk<6, 1, 1, 0>(), mk<6, 1, 1, 1>(),
      mk<6, 1, 1, 2>(), mk<8, 1, 1, 0>(), mk<8, 1, 1, 1>(), mk<8, 1, 1, 2>(), mk<4, 1, 1, 1>(),
      mk<2, 2, 1, 2>(), mk<3, 2, 1, 2>(), mk<4, 2, 1, 2>()};
  constexpr int V = 16 / sizeof(T);
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  const int64_t l2 = prop.l2CacheSize;
  const float tol = SWEEP_T == 0 ? 1e-5f : (SWEEP_T == 1 ? 2e-3f : 1e-2f);
  const bool onlyProd = argc > 1 && std::string(argv[1]) == "--prod";
  for (const Case& c : all) {
    const int64_t n = c.rows * c.cols;
    const int64_t bytes = n * sizeof(T);
    const int nbuf = int(std::max<int64_t>(1, std::min<int64_t>(8, (4 * l2 + 2 * bytes - 1) / (2 * bytes))));
    Bufs B;
    B.nbuf = nbuf;
    for (int i = 0; i < nbuf; ++i) {
      T *x, *y, *s, *sm;
      CK(cudaMalloc(&x, bytes));
      CK(cudaMalloc(&y, bytes));
      CK(cudaMalloc(&s, bytes));
      CK(cudaMalloc(&sm, bytes));
      fillRandom<<<1024, 256>>>(x, n, 11 + i, 2.f, 3.f);
      fillRandom<<<1024, 256>>>(s, n, 101 + i, 1.f, 0.f);
      B.x.push_back(x); B.y.push_back(y); B.skip.push_back(s); B.sum.push_back(sm);
    }
    CK(cudaMalloc(&B.g, c.cols * sizeof(T)));
    CK(cudaMalloc(&B.b, c.cols * sizeof(T)));
    CK(cudaMalloc(&B.bias, c.cols * sizeof(T)));
    fillRandom<<<64, 256>>>(B.g, c.cols, 7, 0.5f, 1.f);
    fillRandom<<<64, 256>>>(B.b, c.cols, 8, 1.f, 0.f);
    fillRandom<<<64, 256>>>(B.bias, c.cols, 9, 0.3f, 0.f);
    float *ref, *refSum;
    double* tmp;
    CK(cudaMalloc(&ref, n * 4));
    CK(cudaMalloc(&refSum, n * 4));
    CK(cudaMalloc(&tmp, 3 * sizeof(double)));
    CK(cudaDeviceSynchronize());
    auto params = [&](int i, bool skip) {
      Params p{B.x[i], B.g, B.b, B.y[i], c.rows, c.cols, 1e-5f};
      if (skip) {
        p.skip = B.skip[i];
        p.bias = B.bias;
        p.sum = B.sum[i];
        p.skipRows = c.rows;
      }
      return p;
    };
    const float copyUs = timeIt([&](int i) { cudaMemcpyAsync(B.y[i], B.x[i], bytes, cudaMemcpyDeviceToDevice); }, nbuf);
    const double copyBW = 2.0 * bytes / copyUs * 1e-3;
    std::printf("%s %ldx%ld copy %.1f us %.0f GB/s\n", kName, c.rows, c.cols, copyUs, copyBW);
    auto report = [&](const char* what, const std::string& var, float us, int64_t nbytes, double err) {
      const double bw = double(nbytes) / us * 1e-3;
      std::printf("%s %ldx%ld %s %s %.1f us %.0f GB/s %.1f%% err %.2e%s\n", kName, c.rows, c.cols,
                  what, var.c_str(), us, bw, 100.0 * bw / copyBW, err, err <= tol ? "" : " FAIL");
    };
    const int64_t wbytes = c.cols * sizeof(T);
    // production dispatch, plain and fused
    for (int rms = 0; rms < 2; ++rms) {
      for (int skip = 0; skip < 2; ++skip) {
        auto run = [&](int i) {
          Params p = params(i, skip);
          cudaError_t e = rms ? (skip ? launchTyped<T, T, true, true>(p, 0) : launchTyped<T, T, true, false>(p, 0))
                                   : (skip ? launchTyped<T, T, false, true>(p, 0) : launchTyped<T, T, false, false>(p, 0));
          if (e != cudaSuccess) { std::fprintf(stderr, "launch: %s\n", cudaGetErrorString(e)); std::exit(1); }
        };
        CK(cudaMemset(B.y[0], 0xff, bytes));
        CK(cudaMemset(B.sum[0], 0xff, bytes));
        run(0);
        CK(cudaDeviceSynchronize());
        Params p0 = params(0, skip);
        const double err = rms ? (skip ? check<true, true>(p0, ref, refSum, tmp) : check<true, false>(p0, ref, refSum, tmp))
                               : (skip ? check<false, true>(p0, ref, refSum, tmp) : check<false, false>(p0, ref, refSum, tmp));
        const float us = timeIt(run, nbuf);
        const int64_t nb = skip ? 4 * bytes + (rms ? 2 : 3) * wbytes : 2 * bytes + (rms ? 1 : 2) * wbytes;
        report(rms ? (skip ? "SkipRMS" : "RMS") : (skip ? "SkipLN" : "LN"), "prod", us, nb, err);
      }
    }
    const int64_t nvec = c.cols / V;
    if (!onlyProd && nvec <= kGroupMaxVec) {
      for (const Variant& v : variants) {
        const int tpr = ceilPow2((nvec + v.nv - 1) / v.nv);
        if (tpr > 32 || (v.nv > 1 && tpr * (v.nv - 1) >= nvec)) continue;  // slots left empty
        for (int cap : {0, 1, 2}) {
          for (int rms = 0; rms < 2; ++rms) {
            auto run = [&](int i) {
              Params p = params(i, false);
              CK((rms ? v.rms : v.ln)(p, tpr, cap, 0));
            };
            CK(cudaMemset(B.y[0], 0xff, bytes));
            run(0);
            CK(cudaDeviceSynchronize());
            Params p0 = params(0, false);
            const double err = rms ? check<true, false>(p0, ref, refSum, tmp) : check<false, false>(p0, ref, refSum, tmp);
            const float us = timeIt(run, nbuf);
            char name[64];
            std::snprintf(name, sizeof name, "tpr%d_nv%d_r%d_mb%d_w%d_cap%d", tpr, v.nv, v.r,
                          v.minb, v.cachew, cap);
            report(rms ? "RMS" : "LN", name, us, 2 * bytes + (rms ? 1 : 2) * wbytes, err);
          }
        }
      }
    }
    for (int i = 0; i < nbuf; ++i) {
      cudaFree(B.x[i]); cudaFree(B.y[i]); cudaFree(B.skip[i]); cudaFree(B.sum[i]);
    }
    cudaFree(B.g); cudaFree(B.b); cudaFree(B.bias); cudaFree(ref); cudaFree(refSum); cudaFree(tmp);
    std::fflush(stdout);
  }
  return 0;
}
