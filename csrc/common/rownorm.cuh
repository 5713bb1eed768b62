// Row normalization (LayerNorm / RMSNorm), optionally fused with a residual add, over the last
// `cols` elements of each of `rows` rows.
//
//   plain:  y = norm(x)
//   fused:  s = x + skip (+ bias), written out rounded to the I/O type; y = norm(s)
//           (onnxruntime's SkipLayerNormalization / SkipSimplifiedLayerNormalization). Rows of
//           up to 256 vectors normalize the float32 sum; wider rows, held in registers in the
//           I/O type, normalize the rounded sum (one rounding of s apart, within tolerance).
//
// Design (see docs/plugins.md, "Kernels"):
//  * float32 accumulation for float32/float16/bfloat16 I/O; weights of the I/O type or float32.
//  * Every input element is read from device memory once and every output written once: each
//    row is held in registers while its statistics are reduced, so mean and variance are two
//    exact passes over registers (no E[x^2]-E[x]^2 cancellation).
//      - rows of up to 256 vectors ("group" kernel): a power-of-two group of <= 32 threads per
//        row, several rows per block; the grid is capped at what the GPU holds at once and each
//        group then strides over rows, so gamma/beta(/bias) are loaded into registers once per
//        group, not once per row, and `R` rows per group are in flight at a time;
//      - up to 4096 vectors: one thread block (<= 512 threads) per row;
//      - larger (Hopper, sm_90+): a thread-block cluster of up to 8 blocks per row, partial sums
//        exchanged through distributed shared memory.
//    A vector is 16 bytes when cols * sizeof(T) and every pointer are 16-byte aligned, else one
//    element. Dispatch choices (vectors per thread, weights in registers or re-read, grid cap)
//    were measured on the H200 with benchmarks/norm_sweep.cu.
//    Rows beyond the cluster capacity, or beyond one block on GPUs before sm_90, take a
//    fallback kernel that reads the row three times (the later reads mostly hit L2).
#pragma once

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "dtype.h"

namespace trtforge {
namespace rownorm {

namespace cg = cooperative_groups;

struct Params {
  const void* x;
  const void* gamma;
  const void* beta;  // nullptr for RMSNorm
  void* y;
  int64_t rows;
  int64_t cols;
  float eps;
  // residual fusion (all nullptr / 0 for a plain norm)
  const void* skip = nullptr;  // I/O type; `skipRows` rows, row r uses skip row r % skipRows
  const void* bias = nullptr;  // I/O type, `cols` elements, or nullptr
  void* sum = nullptr;         // I/O type, like y: x + skip (+ bias); required with skip
  int64_t skipRows = 0;
};

template <typename T>
__device__ __forceinline__ float toF(T v);
template <>
__device__ __forceinline__ float toF<float>(float v) { return v; }
template <>
__device__ __forceinline__ float toF<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float toF<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T fromF(float v);
template <>
__device__ __forceinline__ float fromF<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half fromF<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 fromF<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

constexpr int kAlign(int bytes) { return bytes > 16 ? 16 : bytes; }

template <typename T, int V>
struct alignas(kAlign(sizeof(T) * V)) Vec {
  T v[V];
};

// Converts V floats to a vector of T (pairs of 16-bit values in one instruction).
template <typename T, int V>
__device__ __forceinline__ void pack(Vec<T, V>& o, const float (&f)[V]) {
  if constexpr (V % 2 == 0 && sizeof(T) == 2) {
#pragma unroll
    for (int i = 0; i < V; i += 2) {
      if constexpr (std::is_same<T, __half>::value) {
        const __half2 h = __floats2half2_rn(f[i], f[i + 1]);
        o.v[i] = h.x;
        o.v[i + 1] = h.y;
      } else {
        const __nv_bfloat162 h = __floats2bfloat162_rn(f[i], f[i + 1]);
        o.v[i] = h.x;
        o.v[i + 1] = h.y;
      }
    }
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) o.v[i] = fromF<T>(f[i]);
  }
}

template <typename T, int V>
__device__ __forceinline__ Vec<T, V> ldv(const T* base, int64_t j) {
  return reinterpret_cast<const Vec<T, V>*>(base)[j];
}

// A load of data read exactly once. TRTFORGE_ROWNORM_LDCS=1 gives it the streaming (evict
// first) hint; measured on the H200 it did not help (benchmarks/norm_sweep.cu), so it is off.
#ifndef TRTFORGE_ROWNORM_LDCS
#define TRTFORGE_ROWNORM_LDCS 0
#endif
template <typename T, int V>
__device__ __forceinline__ Vec<T, V> ldvOnce(const T* base, int64_t j) {
  if constexpr (TRTFORGE_ROWNORM_LDCS && sizeof(Vec<T, V>) == 16) {
    const float4 f = __ldcs(reinterpret_cast<const float4*>(base) + j);
    Vec<T, V> r;
    static_assert(sizeof(r) == sizeof(f), "16-byte vector");
    memcpy(&r, &f, 16);
    return r;
  } else {
    return reinterpret_cast<const Vec<T, V>*>(base)[j];
  }
}

template <typename T, int V>
__device__ __forceinline__ void stv(T* base, int64_t j, const Vec<T, V>& v) {
  reinterpret_cast<Vec<T, V>*>(base)[j] = v;
}

__device__ __forceinline__ float groupSum(float v, int width) {
  for (int o = width >> 1; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block; `red` holds >= 33 floats. Every thread gets the result.
__device__ __forceinline__ float blockSum(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
  v = groupSum(v, 32);
  __syncthreads();  // `red` may still be read from a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < nwarps ? red[lane] : 0.f;
    t = groupSum(t, 32);
    if (lane == 0) red[32] = t;
  }
  __syncthreads();
  return red[32];
}

// One row's pointers: x, and (fused) skip and sum. The skip row is row % skipRows, computed
// once per row (a 64-bit modulo per vector would cost more than the memory access).
template <typename T, bool kSkip>
struct RowPtrs {
  const T* x;
  const T* skip;
  T* sum;
  __device__ __forceinline__ RowPtrs(const Params& p, int64_t row) {
    x = static_cast<const T*>(p.x) + row * p.cols;
    skip = nullptr;
    sum = nullptr;
    if constexpr (kSkip) {
      const int64_t srow = p.skipRows == p.rows ? row : row % p.skipRows;
      skip = static_cast<const T*>(p.skip) + srow * p.cols;
      sum = static_cast<T*>(p.sum) + row * p.cols;
    }
  }
};

// Loads vector j of a row into `out`: x, or (fused) x + skip + bias rounded to T, which is
// also written to the sum output. `bias` holds the bias vector j (zeros when there is none).
template <typename T, int V, bool kSkip>
__device__ __forceinline__ void loadVec(const RowPtrs<T, kSkip>& rp, int64_t j,
                                        const float (&bias)[V], Vec<T, V>& out) {
  out = ldvOnce<T, V>(rp.x, j);
  if constexpr (kSkip) {
    const Vec<T, V> s = ldvOnce<T, V>(rp.skip, j);
    float f[V];
#pragma unroll
    for (int i = 0; i < V; ++i) f[i] = toF(out.v[i]) + toF(s.v[i]) + bias[i];
    pack<T, V>(out, f);
    stv<T, V>(rp.sum, j, out);
  }
}

// As loadVec, into float32: x, or (fused) x + skip + bias before rounding, so that y
// normalizes the exact sum (the sum output is still the rounded one).
template <typename T, int V, bool kSkip>
__device__ __forceinline__ void loadVecF(const RowPtrs<T, kSkip>& rp, int64_t j,
                                         const float (&bias)[V], float (&f)[V]) {
  const Vec<T, V> xv = ldvOnce<T, V>(rp.x, j);
  if constexpr (kSkip) {
    const Vec<T, V> s = ldvOnce<T, V>(rp.skip, j);
#pragma unroll
    for (int i = 0; i < V; ++i) f[i] = toF(xv.v[i]) + toF(s.v[i]) + bias[i];
    Vec<T, V> o;
    pack<T, V>(o, f);
    stv<T, V>(rp.sum, j, o);
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) f[i] = toF(xv.v[i]);
  }
}

template <typename T, int V>
__device__ __forceinline__ void loadBias(const Params& p, int64_t j, float (&b)[V]) {
  if (p.bias) {
    const Vec<T, V> v = ldv<T, V>(static_cast<const T*>(p.bias), j);
#pragma unroll
    for (int i = 0; i < V; ++i) b[i] = toF(v.v[i]);
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) b[i] = 0.f;
  }
}

// One output vector: y = (x * rstd + shift) * g (+ b), shift = -mean * rstd (two FMAs).
template <typename T, bool kRMS, int V>
__device__ __forceinline__ Vec<T, V> normVecF(const float (&x)[V], const float (&g)[V],
                                              const float (&b)[V], float rstd, float shift) {
  float f[V];
#pragma unroll
  for (int i = 0; i < V; ++i) {
    if constexpr (kRMS) {
      f[i] = x[i] * rstd * g[i];
    } else {
      f[i] = fmaf(fmaf(x[i], rstd, shift), g[i], b[i]);
    }
  }
  Vec<T, V> o;
  pack<T, V>(o, f);
  return o;
}

template <typename W, int V>
__device__ __forceinline__ void toFloats(const Vec<W, V>& v, float (&f)[V]) {
#pragma unroll
  for (int i = 0; i < V; ++i) f[i] = toF(v.v[i]);
}

template <typename T, typename W, bool kRMS, int V>
__device__ __forceinline__ Vec<T, V> normVec(const Vec<T, V>& xv, const Vec<W, V>& gv,
                                             const Vec<W, V>& bv, float mean, float rstd) {
  float x[V], g[V], b[V];
  toFloats<T, V>(xv, x);
  toFloats<W, V>(gv, g);
  if constexpr (!kRMS) toFloats<W, V>(bv, b);
  else
#pragma unroll
    for (int i = 0; i < V; ++i) b[i] = 0.f;
  return normVecF<T, kRMS, V>(x, g, b, rstd, -mean * rstd);
}

// ---------------------------------------------------------------------------------------------
// Group kernel: `tpr` (power of two, <= 32) threads per row, blockDim.x = 256, each thread
// holding up to NV vectors of a row as float32; each group handles R rows at a time and strides
// over the rows with the whole grid. The weights (and bias): kW = 1 keeps them in registers, as
// float32, for the group's lifetime; kW = 2 keeps gamma/beta in shared memory as float32
// (16-byte vectors only; the bias is then re-read); kW = 0 re-reads them (L1 hits) per row.
template <int kW, int V>
__host__ __device__ constexpr int weightMode() {
  return (kW == 2 && V % 4 != 0) ? 0 : kW;
}

template <typename W, bool kRMS, int V>
__host__ __device__ constexpr size_t weightSmemBytes(int64_t nvec) {
  return static_cast<size_t>(nvec) * (V / 4) * (kRMS ? 1 : 2) * sizeof(float4);
}

template <typename T, typename W, bool kRMS, bool kSkip, int V, int NV, int R, int MINB,
          int kWIn>
__global__ void __launch_bounds__(256, MINB) groupKernel(Params p, int tpr) {
  constexpr int kW = weightMode<kWIn, V>();
  constexpr bool kCacheW = kW == 1;
  const int64_t nvec = p.cols / V;
  const int lane = threadIdx.x & (tpr - 1);
  const int64_t gpb = blockDim.x / tpr;
  const int64_t group = static_cast<int64_t>(blockIdx.x) * gpb + threadIdx.x / tpr;
  const int64_t ngroups = static_cast<int64_t>(gridDim.x) * gpb;
  const W* gp = static_cast<const W*>(p.gamma);
  const W* bp = static_cast<const W*>(p.beta);
  constexpr int NC = kCacheW ? NV : 1;
  float gc[NC][V], bc[kRMS ? 1 : NC][V], biasc[kSkip ? NC : 1][V];
  auto weights = [&](int64_t j, float (&g)[V], float (&b)[V]) {
    toFloats<W, V>(ldv<W, V>(gp, j), g);
    if constexpr (!kRMS) toFloats<W, V>(ldv<W, V>(bp, j), b);
  };
  if constexpr (kCacheW) {
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      const int64_t j = lane + k * tpr;
      if (j < nvec) {
        weights(j, gc[k], bc[kRMS ? 0 : k]);
        if constexpr (kSkip) loadBias<T, V>(p, j, biasc[k]);
      }
    }
  }
  // kW == 2: gamma (then beta) as float4 planes: plane h holds elements 4h..4h+3 of every
  // vector, so a warp's reads of one plane are contiguous (no bank conflicts)
  extern __shared__ float4 wsm[];
  constexpr int Q = V / 4 > 0 ? V / 4 : 1;
  if constexpr (kW == 2) {
    for (int64_t j = threadIdx.x; j < nvec; j += blockDim.x) {
      float g[V], b[V];
      weights(j, g, b);
#pragma unroll
      for (int h = 0; h < Q; ++h) {
        wsm[h * nvec + j] = make_float4(g[4 * h], g[4 * h + 1], g[4 * h + 2], g[4 * h + 3]);
        if constexpr (!kRMS)
          wsm[(Q + h) * nvec + j] = make_float4(b[4 * h], b[4 * h + 1], b[4 * h + 2], b[4 * h + 3]);
      }
    }
    __syncthreads();
  }
  const float inv = 1.f / static_cast<float>(p.cols);
  for (int64_t r0 = group * R; r0 < p.rows; r0 += ngroups * R) {
    float xf[R][NV][V];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t row = r0 + r;
      const RowPtrs<T, kSkip> rp(p, row < p.rows ? row : 0);
#pragma unroll
      for (int k = 0; k < NV; ++k) {
        const int64_t j = lane + k * tpr;
        if (row < p.rows && j < nvec) {
          float biasv[V];
          if constexpr (kSkip) {
            if constexpr (kCacheW) {
#pragma unroll
              for (int i = 0; i < V; ++i) biasv[i] = biasc[k][i];
            } else {
              loadBias<T, V>(p, j, biasv);
            }
          }
          loadVecF<T, V, kSkip>(rp, j, biasv, xf[r][k]);
        } else {
#pragma unroll
          for (int i = 0; i < V; ++i) xf[r][k][i] = 0.f;
        }
      }
    }
    float s[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      s[r] = 0.f;
#pragma unroll
      for (int k = 0; k < NV; ++k)
#pragma unroll
        for (int i = 0; i < V; ++i) s[r] += kRMS ? xf[r][k][i] * xf[r][k][i] : xf[r][k][i];
    }
#pragma unroll
    for (int r = 0; r < R; ++r) s[r] = groupSum(s[r], tpr);
    float rstd[R], shift[R];
    if constexpr (kRMS) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
        rstd[r] = rsqrtf(s[r] * inv + p.eps);
        shift[r] = 0.f;
      }
    } else {
      float q[R], mean[R];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        mean[r] = s[r] * inv;
        q[r] = 0.f;
#pragma unroll
        for (int k = 0; k < NV; ++k) {
          if (lane + k * tpr < nvec) {
#pragma unroll
            for (int i = 0; i < V; ++i) {
              const float d = xf[r][k][i] - mean[r];
              q[r] = fmaf(d, d, q[r]);
            }
          }
        }
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        rstd[r] = rsqrtf(groupSum(q[r], tpr) * inv + p.eps);
        shift[r] = -mean[r] * rstd[r];
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t row = r0 + r;
      if (row >= p.rows) break;
      T* y = static_cast<T*>(p.y) + row * p.cols;
#pragma unroll
      for (int k = 0; k < NV; ++k) {
        const int64_t j = lane + k * tpr;
        if (j < nvec) {
          if constexpr (kCacheW) {
            stv<T, V>(y, j, normVecF<T, kRMS, V>(xf[r][k], gc[k], bc[kRMS ? 0 : k], rstd[r], shift[r]));
          } else if constexpr (kW == 2) {
            float g[V], b[V];
#pragma unroll
            for (int h = 0; h < Q; ++h) {
              const float4 a = wsm[h * nvec + j];
              g[4 * h] = a.x, g[4 * h + 1] = a.y, g[4 * h + 2] = a.z, g[4 * h + 3] = a.w;
              if constexpr (!kRMS) {
                const float4 c = wsm[(Q + h) * nvec + j];
                b[4 * h] = c.x, b[4 * h + 1] = c.y, b[4 * h + 2] = c.z, b[4 * h + 3] = c.w;
              }
            }
            stv<T, V>(y, j, normVecF<T, kRMS, V>(xf[r][k], g, b, rstd[r], shift[r]));
          } else {
            float g[V], b[V];
            weights(j, g, b);
            stv<T, V>(y, j, normVecF<T, kRMS, V>(xf[r][k], g, b, rstd[r], shift[r]));
          }
        }
      }
    }
  }
}

// One block per row, or (sm_90+) one cluster of blocks per row, each block holding `chunk`
// vectors of it. gridDim.x = rows * clusterSize.
template <typename T, typename W, bool kRMS, bool kSkip, int V, int NV>
__global__ void __launch_bounds__(512) blockKernel(Params p, int64_t chunk) {
  __shared__ float red[33];
  unsigned csize = 1, crank = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  __shared__ float part[2];  // this block's partial sums, read by the cluster's other blocks
  cg::cluster_group cluster = cg::this_cluster();
  csize = cluster.num_blocks();
  crank = cluster.block_rank();
#endif
  const int64_t row = blockIdx.x / csize;
  const int64_t nvec = p.cols / V;
  const int64_t first = static_cast<int64_t>(crank) * chunk + threadIdx.x;
  const int64_t end = min(nvec, static_cast<int64_t>(crank + 1) * chunk);
  const int64_t stride = blockDim.x;
  Vec<T, V> buf[NV];
  const RowPtrs<T, kSkip> rp(p, row);
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    const int64_t j = first + k * stride;
    if (j < end) {
      float biasv[V];
      if constexpr (kSkip) loadBias<T, V>(p, j, biasv);
      loadVec<T, V, kSkip>(rp, j, biasv, buf[k]);
    }
  }
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    const int64_t j = first + k * stride;
    if (j < end) {
#pragma unroll
      for (int i = 0; i < V; ++i) {
        const float v = toF(buf[k].v[i]);
        s += kRMS ? v * v : v;
      }
    }
  }
  s = blockSum(s, red);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (csize > 1) {
    if (threadIdx.x == 0) part[0] = s;
    cluster.sync();
    float t = 0.f;
    for (unsigned r = 0; r < csize; ++r) t += *cluster.map_shared_rank(&part[0], r);
    s = t;
  }
#endif
  const float inv = 1.f / static_cast<float>(p.cols);
  float mean = 0.f, rstd;
  if constexpr (kRMS) {
    rstd = rsqrtf(s * inv + p.eps);
  } else {
    mean = s * inv;
    float q = 0.f;
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      const int64_t j = first + k * stride;
      if (j < end) {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const float d = toF(buf[k].v[i]) - mean;
          q += d * d;
        }
      }
    }
    q = blockSum(q, red);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (csize > 1) {
      if (threadIdx.x == 0) part[1] = q;
      cluster.sync();
      float t = 0.f;
      for (unsigned r = 0; r < csize; ++r) t += *cluster.map_shared_rank(&part[1], r);
      q = t;
    }
#endif
    rstd = rsqrtf(q * inv + p.eps);
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (csize > 1) cluster.sync();  // keep `part` alive until every block of the cluster read it
#endif
  const W* g = static_cast<const W*>(p.gamma);
  const W* b = static_cast<const W*>(p.beta);
  T* y = static_cast<T*>(p.y) + row * p.cols;
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    const int64_t j = first + k * stride;
    if (j < end) {
      const Vec<W, V> gv = ldv<W, V>(g, j);
      const Vec<W, V> bv = kRMS ? gv : ldv<W, V>(b, j);
      stv<T, V>(y, j, normVec<T, W, kRMS, V>(buf[k], gv, bv, mean, rstd));
    }
  }
}

// Fallback for rows too long to hold on chip: reads the row three times (mean, variance, out);
// fused, the first pass writes the sum and the later passes read it back.
template <typename T, typename W, bool kRMS, bool kSkip>
__global__ void __launch_bounds__(1024) streamKernel(Params p) {
  __shared__ float red[33];
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + row * p.cols;
  if constexpr (kSkip) {
    const T* sk = static_cast<const T*>(p.skip) + (row % p.skipRows) * p.cols;
    const T* bias = static_cast<const T*>(p.bias);
    T* sum = static_cast<T*>(p.sum) + row * p.cols;
    for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x)
      sum[j] = fromF<T>(toF(x[j]) + toF(sk[j]) + (bias ? toF(bias[j]) : 0.f));
    __syncthreads();  // each thread reads back only what it wrote; kept for clarity
    x = sum;
  }
  const float inv = 1.f / static_cast<float>(p.cols);
  float mean = 0.f;
  if constexpr (!kRMS) {
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) s += toF(x[j]);
    mean = blockSum(s, red) * inv;
  }
  float q = 0.f;
  for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) {
    const float d = toF(x[j]) - mean;
    q += d * d;
  }
  const float rstd = rsqrtf(blockSum(q, red) * inv + p.eps);
  const W* g = static_cast<const W*>(p.gamma);
  const W* b = static_cast<const W*>(p.beta);
  T* y = static_cast<T*>(p.y) + row * p.cols;
  for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) {
    float v = (toF(x[j]) - mean) * rstd * toF(g[j]);
    if constexpr (!kRMS) v += toF(b[j]);
    y[j] = fromF<T>(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Host-side dispatch.

inline int ceilPow2(int64_t v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

struct DeviceInfo {
  int major = 0;
  int sms = 0;
};

inline DeviceInfo deviceInfo() {
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return {};
  static DeviceInfo cache[64];
  if (cache[dev].major == 0) {
    DeviceInfo d;
    cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, dev);
    if (d.major <= 0) d.major = -1;
    if (d.sms <= 0) d.sms = 1;
    cache[dev] = d;
  }
  return cache[dev];
}

inline int smMajor() { return deviceInfo().major; }

// Blocks of `kernel` (256 threads, `smem` bytes of dynamic shared memory) resident on one SM;
// 0 when unknown.
template <typename K>
int residentBlocks(K kernel, size_t smem) {
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, 256, smem) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

// Launches the group kernel: rows in groups of `tpr` threads, R rows per group at a time,
// with no more blocks than `wavesCap` full waves of the GPU (0: one block per R*groups rows).
template <typename T, typename W, bool kRMS, bool kSkip, int V, int NV, int R, int MINB = 1,
          int kW = 1>
cudaError_t launchGroup(const Params& p, int tpr, int wavesCap, cudaStream_t stream) {
  auto kernel = groupKernel<T, W, kRMS, kSkip, V, NV, R, MINB, kW>;
  const size_t smem = weightMode<kW, V>() == 2 ? weightSmemBytes<W, kRMS, V>(p.cols / V) : 0;
  const int64_t rowsPerBlock = static_cast<int64_t>(256 / tpr) * R;
  int64_t blocks = (p.rows + rowsPerBlock - 1) / rowsPerBlock;
  if (wavesCap > 0) {
    static thread_local int resident = -1;  // per instantiation
    if (resident < 0) resident = residentBlocks(kernel, smem);
    const int64_t cap = static_cast<int64_t>(resident > 0 ? resident : 1) * deviceInfo().sms *
                        wavesCap;
    if (blocks > cap) blocks = cap;
  }
  if (blocks > 0x7fffffff) blocks = 0x7fffffff;
  kernel<<<dim3(static_cast<unsigned>(blocks)), 256, smem, stream>>>(p, tpr);
  return cudaGetLastError();
}

// Where the group kernel keeps the weights (its kW) for rows of NV vectors per thread, by
// element size and kind of norm. Measured on the H200 (benchmarks/norm_sweep.cu; raw sweeps in
// benchmarks/results/norm-sweep-h200-2026-12-04*.txt): float32 rows gain from weights in
// registers at any NV; 16-bit LayerNorm from gamma/beta in shared memory (1-2 points over
// re-reading them at NV 2-4, more at NV 6-8; registers cost occupancy: 5-13 points lower);
// 16-bit RMSNorm from registers at NV = 3 only (elsewhere they cost occupancy: NV = 2 at 91%
// of copy with them, 96% re-reading). The fused residual-add kernels re-read the weights and
// bias (kW = 0) at every size.
template <typename T, bool kRMS, bool kSkip>
constexpr int groupWeightMode(int nv) {
  if (kSkip) return 0;
  if (sizeof(T) == 4) return 1;
  if (!kRMS) return 2;
  return nv == 3 ? 1 : 0;
}

constexpr int64_t kGroupMaxVec = 256;    // 32 threads x 8 vectors
constexpr int64_t kBlockMaxVec = 4096;   // 512 threads x 8 vectors
constexpr int64_t kClusterCtaVec = 4096; // per block of a cluster: 512 threads x 8 vectors
constexpr int kMaxCluster = 8;           // portable cluster size

template <typename T, typename W, bool kRMS, bool kSkip, int V>
cudaError_t launchV(const Params& p, cudaStream_t stream) {
  const int64_t nvec = p.cols / V;
  if (nvec <= kGroupMaxVec) {
    // A warp-or-less group per row holding NV vectors per thread; NV chosen so that no slot is
    // left empty where it can be. The weight mode (groupWeightMode) and, for 16-bit LayerNorm,
    // a grid capped at two waves of resident blocks (each group then strides over rows) were
    // measured on the H200 (benchmarks/norm_sweep.cu, docs/benchmarks.md).
    constexpr int kCap = (sizeof(T) == 2 && !kRMS) ? 2 : 0;
    if (nvec <= 2)
      return launchGroup<T, W, kRMS, kSkip, V, 1, 2, 1, groupWeightMode<T, kRMS, kSkip>(1)>(
          p, ceilPow2(nvec), kCap, stream);
    // 16-bit LayerNorm rows of 16 vectors (128 elements): four vectors per thread and a
    // one-wave grid measured 90.9-91.9% of copy on the H200 over two sweeps, two vectors per
    // thread 89.7-90.9% (benchmarks/results/norm-sweep-h200-2026-12-04-*.txt)
    if constexpr (sizeof(T) == 2 && !kRMS && !kSkip) {
      if (nvec == 16)
        return launchGroup<T, W, kRMS, kSkip, V, 4, 1, 1, groupWeightMode<T, kRMS, kSkip>(4)>(
            p, static_cast<int>(nvec / 4), 1, stream);
    }
    if (nvec <= 64)
      return launchGroup<T, W, kRMS, kSkip, V, 2, 1, 1, groupWeightMode<T, kRMS, kSkip>(2)>(
          p, ceilPow2((nvec + 1) / 2), kCap, stream);
    if (nvec <= 96)
      return launchGroup<T, W, kRMS, kSkip, V, 3, 1, 1, groupWeightMode<T, kRMS, kSkip>(3)>(
          p, 32, kCap, stream);
    if (nvec <= 128)
      return launchGroup<T, W, kRMS, kSkip, V, 4, 1, 1, groupWeightMode<T, kRMS, kSkip>(4)>(
          p, 32, kCap, stream);
    if (nvec <= 192)
      return launchGroup<T, W, kRMS, kSkip, V, 6, 1, 1, groupWeightMode<T, kRMS, kSkip>(6)>(
          p, 32, kCap, stream);
    return launchGroup<T, W, kRMS, kSkip, V, 8, 1, 1, groupWeightMode<T, kRMS, kSkip>(8)>(
        p, 32, kCap, stream);
  }
  if (nvec <= kBlockMaxVec) {
    const int nv = nvec <= 1024 ? 4 : 8;
    const int threads = static_cast<int>(((nvec + nv - 1) / nv + 31) / 32 * 32);
    const dim3 grid(static_cast<unsigned>(p.rows));
    if (nv == 4) blockKernel<T, W, kRMS, kSkip, V, 4><<<grid, threads, 0, stream>>>(p, nvec);
    else blockKernel<T, W, kRMS, kSkip, V, 8><<<grid, threads, 0, stream>>>(p, nvec);
    return cudaGetLastError();
  }
  const int csize = ceilPow2((nvec + kClusterCtaVec - 1) / kClusterCtaVec);
  if (smMajor() >= 9 && csize <= kMaxCluster && p.rows * csize < (int64_t{1} << 31)) {
    const int64_t chunk = (nvec + csize - 1) / csize;
    const int threads = static_cast<int>(((chunk + 7) / 8 + 31) / 32 * 32);
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(p.rows * csize));
    cfg.blockDim = dim3(threads);
    cfg.dynamicSmemBytes = 0;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = csize;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    cudaError_t err = cudaLaunchKernelEx(&cfg, blockKernel<T, W, kRMS, kSkip, V, 8>, p, chunk);
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
  }
  streamKernel<T, W, kRMS, kSkip><<<dim3(static_cast<unsigned>(p.rows)), 1024, 0, stream>>>(p);
  return cudaGetLastError();
}

inline bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

template <typename T, typename W, bool kRMS, bool kSkip>
cudaError_t launchTyped(const Params& p, cudaStream_t stream) {
  constexpr int V = 16 / sizeof(T);
  bool vec = p.cols % V == 0 && aligned16(p.x) && aligned16(p.y) && aligned16(p.gamma) &&
             (kRMS || aligned16(p.beta));
  if (kSkip) vec = vec && aligned16(p.skip) && aligned16(p.sum) && (!p.bias || aligned16(p.bias));
  return vec ? launchV<T, W, kRMS, kSkip, V>(p, stream) : launchV<T, W, kRMS, kSkip, 1>(p, stream);
}

template <bool kRMS, bool kSkip>
cudaError_t launchIO(const Params& p, DType io, DType w, cudaStream_t stream) {
  switch (io) {
    case DType::kFLOAT:
      if (w == DType::kFLOAT) return launchTyped<float, float, kRMS, kSkip>(p, stream);
      break;
    case DType::kHALF:
      if (w == DType::kHALF) return launchTyped<__half, __half, kRMS, kSkip>(p, stream);
      if (w == DType::kFLOAT) return launchTyped<__half, float, kRMS, kSkip>(p, stream);
      break;
    case DType::kBF16:
      if (w == DType::kBF16) return launchTyped<__nv_bfloat16, __nv_bfloat16, kRMS, kSkip>(p, stream);
      if (w == DType::kFLOAT) return launchTyped<__nv_bfloat16, float, kRMS, kSkip>(p, stream);
      break;
    default:
      break;
  }
  return cudaErrorInvalidValue;
}

inline bool validShape(const Params& p) {
  return p.rows >= 0 && p.cols > 0 && p.rows < (int64_t{1} << 31);
}

// y = norm(x).
template <bool kRMS>
cudaError_t launch(const Params& p, DType io, DType w, cudaStream_t stream) {
  if (!validShape(p)) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  if (!p.x || !p.y || !p.gamma || (!kRMS && !p.beta) || p.skip) return cudaErrorInvalidValue;
  return launchIO<kRMS, false>(p, io, w, stream);
}

// sum = x + skip (+ bias); y = norm(sum). Separate from launch() so that each plugin compiles
// only the kernels it uses.
template <bool kRMS>
cudaError_t launchSkip(const Params& p, DType io, DType w, cudaStream_t stream) {
  if (!validShape(p)) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  if (!p.x || !p.y || !p.gamma || (!kRMS && !p.beta)) return cudaErrorInvalidValue;
  if (!p.skip || !p.sum || p.skipRows <= 0 || p.rows % p.skipRows != 0)
    return cudaErrorInvalidValue;
  return launchIO<kRMS, true>(p, io, w, stream);
}

}  // namespace rownorm
}  // namespace trtforge
