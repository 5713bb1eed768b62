// Row normalization (LayerNorm / RMSNorm) over the last `cols` elements of each of `rows` rows.
//
// Design (see docs/plugins.md, "Kernels"):
//  * float32 accumulation for float32/float16/bfloat16 I/O; weights of the I/O type or float32.
//  * The input is read from device memory once: each row is held in registers while its
//    statistics are reduced, so mean and variance are computed in two exact passes over
//    registers (no E[x^2]-E[x]^2 cancellation), then the output is written.
//      - rows of up to 256 vectors: a power-of-two group of <= 32 threads per row (shuffles);
//      - up to 4096 vectors: one thread block (<= 512 threads) per row;
//      - larger (Hopper, sm_90+): a thread-block cluster of up to 8 blocks per row, partial sums
//        exchanged through distributed shared memory.
//    A vector is 16 bytes when cols * sizeof(T) and every pointer are 16-byte aligned, else one
//    element. Rows beyond the cluster capacity, or beyond one block on GPUs before sm_90, take a
//    fallback kernel that reads the row three times (the later reads mostly hit L2).
#pragma once

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

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

template <typename T, int V>
__device__ __forceinline__ Vec<T, V> ldv(const T* base, int64_t j) {
  return reinterpret_cast<const Vec<T, V>*>(base)[j];
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

// Writes y for the vectors this thread holds.
template <typename T, typename W, bool kRMS, int V, int NV>
__device__ __forceinline__ void writeOut(const Params& p, const Vec<T, V> (&buf)[NV], int64_t row,
                                         int64_t first, int64_t stride, int64_t end, float mean,
                                         float rstd) {
  const W* g = static_cast<const W*>(p.gamma);
  const W* b = static_cast<const W*>(p.beta);
  T* y = static_cast<T*>(p.y) + row * p.cols;
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    const int64_t j = first + k * stride;
    if (j < end) {
      const Vec<W, V> gv = ldv<W, V>(g, j);
      Vec<T, V> o;
      if constexpr (kRMS) {
#pragma unroll
        for (int i = 0; i < V; ++i) o.v[i] = fromF<T>(toF(buf[k].v[i]) * rstd * toF(gv.v[i]));
      } else {
        const Vec<W, V> bv = ldv<W, V>(b, j);
#pragma unroll
        for (int i = 0; i < V; ++i)
          o.v[i] = fromF<T>((toF(buf[k].v[i]) - mean) * rstd * toF(gv.v[i]) + toF(bv.v[i]));
      }
      stv<T, V>(y, j, o);
    }
  }
}

// A group of `tpr` (power of two, <= 32) threads per row; blockDim.x = 256.
template <typename T, typename W, bool kRMS, int V, int NV>
__global__ void __launch_bounds__(256) groupKernel(Params p, int tpr) {
  const int64_t nvec = p.cols / V;
  const int lane = threadIdx.x & (tpr - 1);
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / tpr) + threadIdx.x / tpr;
  const bool valid = row < p.rows;
  const T* x = static_cast<const T*>(p.x) + (valid ? row : 0) * p.cols;
  Vec<T, V> buf[NV];
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    const int64_t j = lane + k * tpr;
    if (valid && j < nvec) buf[k] = ldv<T, V>(x, j);
  }
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    const int64_t j = lane + k * tpr;
    if (valid && j < nvec) {
#pragma unroll
      for (int i = 0; i < V; ++i) {
        const float v = toF(buf[k].v[i]);
        s += kRMS ? v * v : v;
      }
    }
  }
  s = groupSum(s, tpr);
  const float inv = 1.f / static_cast<float>(p.cols);
  float mean = 0.f, rstd;
  if constexpr (kRMS) {
    rstd = rsqrtf(s * inv + p.eps);
  } else {
    mean = s * inv;
    float q = 0.f;
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      const int64_t j = lane + k * tpr;
      if (valid && j < nvec) {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const float d = toF(buf[k].v[i]) - mean;
          q += d * d;
        }
      }
    }
    q = groupSum(q, tpr);
    rstd = rsqrtf(q * inv + p.eps);
  }
  if (valid) writeOut<T, W, kRMS, V, NV>(p, buf, row, lane, tpr, nvec, mean, rstd);
}

// One block per row, or (sm_90+) one cluster of blocks per row, each block holding `chunk`
// vectors of it. gridDim.x = rows * clusterSize.
template <typename T, typename W, bool kRMS, int V, int NV>
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
  const T* x = static_cast<const T*>(p.x) + row * p.cols;
  Vec<T, V> buf[NV];
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    const int64_t j = first + k * stride;
    if (j < end) buf[k] = ldv<T, V>(x, j);
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
  writeOut<T, W, kRMS, V, NV>(p, buf, row, first, stride, end, mean, rstd);
}

// Fallback for rows too long to hold on chip: reads the row three times (mean, variance, out).
template <typename T, typename W, bool kRMS>
__global__ void __launch_bounds__(1024) streamKernel(Params p) {
  __shared__ float red[33];
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + row * p.cols;
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

inline int smMajor() {
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 0;
  static int cache[64] = {0};
  if (dev < 0 || dev >= 64) return 0;
  if (cache[dev] == 0) {
    int major = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cache[dev] = major > 0 ? major : -1;
  }
  return cache[dev];
}

constexpr int64_t kGroupMaxVec = 256;    // 32 threads x 8 vectors
constexpr int64_t kBlockMaxVec = 4096;   // 512 threads x 8 vectors
constexpr int64_t kClusterCtaVec = 4096; // per block of a cluster: 512 threads x 8 vectors
constexpr int kMaxCluster = 8;           // portable cluster size

template <typename T, typename W, bool kRMS, int V>
cudaError_t launchV(const Params& p, cudaStream_t stream) {
  const int64_t nvec = p.cols / V;
  if (nvec <= kGroupMaxVec) {
    int nv, tpr;
    if (nvec <= 2) { nv = 1; tpr = ceilPow2(nvec); }
    else if (nvec <= 64) { nv = 2; tpr = ceilPow2((nvec + 1) / 2); }
    else if (nvec <= 128) { nv = 4; tpr = 32; }
    else { nv = 8; tpr = 32; }
    const int rpb = 256 / tpr;
    const dim3 grid(static_cast<unsigned>((p.rows + rpb - 1) / rpb));
    switch (nv) {
      case 1: groupKernel<T, W, kRMS, V, 1><<<grid, 256, 0, stream>>>(p, tpr); break;
      case 2: groupKernel<T, W, kRMS, V, 2><<<grid, 256, 0, stream>>>(p, tpr); break;
      case 4: groupKernel<T, W, kRMS, V, 4><<<grid, 256, 0, stream>>>(p, tpr); break;
      default: groupKernel<T, W, kRMS, V, 8><<<grid, 256, 0, stream>>>(p, tpr); break;
    }
    return cudaGetLastError();
  }
  if (nvec <= kBlockMaxVec) {
    const int nv = nvec <= 1024 ? 4 : 8;
    const int threads = static_cast<int>(((nvec + nv - 1) / nv + 31) / 32 * 32);
    const dim3 grid(static_cast<unsigned>(p.rows));
    if (nv == 4) blockKernel<T, W, kRMS, V, 4><<<grid, threads, 0, stream>>>(p, nvec);
    else blockKernel<T, W, kRMS, V, 8><<<grid, threads, 0, stream>>>(p, nvec);
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
    cudaError_t err = cudaLaunchKernelEx(&cfg, blockKernel<T, W, kRMS, V, 8>, p, chunk);
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
  }
  streamKernel<T, W, kRMS><<<dim3(static_cast<unsigned>(p.rows)), 1024, 0, stream>>>(p);
  return cudaGetLastError();
}

inline bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

template <typename T, typename W, bool kRMS>
cudaError_t launchTyped(const Params& p, cudaStream_t stream) {
  constexpr int V = 16 / sizeof(T);
  const bool vec = p.cols % V == 0 && aligned16(p.x) && aligned16(p.y) && aligned16(p.gamma) &&
                   (kRMS || aligned16(p.beta));
  return vec ? launchV<T, W, kRMS, V>(p, stream) : launchV<T, W, kRMS, 1>(p, stream);
}

template <bool kRMS>
cudaError_t launch(const Params& p, DType io, DType w, cudaStream_t stream) {
  if (p.rows < 0 || p.cols <= 0 || p.rows >= (int64_t{1} << 31)) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  if (!p.x || !p.y || !p.gamma || (!kRMS && !p.beta)) return cudaErrorInvalidValue;
  switch (io) {
    case DType::kFLOAT:
      if (w == DType::kFLOAT) return launchTyped<float, float, kRMS>(p, stream);
      break;
    case DType::kHALF:
      if (w == DType::kHALF) return launchTyped<__half, __half, kRMS>(p, stream);
      if (w == DType::kFLOAT) return launchTyped<__half, float, kRMS>(p, stream);
      break;
    case DType::kBF16:
      if (w == DType::kBF16) return launchTyped<__nv_bfloat16, __nv_bfloat16, kRMS>(p, stream);
      if (w == DType::kFLOAT) return launchTyped<__nv_bfloat16, float, kRMS>(p, stream);
      break;
    default:
      break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace rownorm
}  // namespace trtforge
