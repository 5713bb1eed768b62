// NonZero in two passes without workspace: (1) the grid counts non-zero elements into the
// count output (one atomic per block); (2) one block walks the input in order, tile by tile,
// and scatters each non-zero element's coordinates to y[d * count + position] with a block-wide
// exclusive scan. The second pass keeps the row-major order the ONNX op requires; its single
// block bounds throughput (detection masks are small next to the rest of such models).
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/launch.h"
#include "nonzero/nonzero_kernel.h"

namespace trtforge {
namespace {

constexpr int kThreads = 256;

template <typename T>
__device__ __forceinline__ bool isNonZero(const T* x, int64_t i) {
  return x[i] != T(0);
}
template <>
__device__ __forceinline__ bool isNonZero<__half>(const __half* x, int64_t i) {
  return __half2float(x[i]) != 0.f;
}
template <>
__device__ __forceinline__ bool isNonZero<__nv_bfloat16>(const __nv_bfloat16* x, int64_t i) {
  return __bfloat162float(x[i]) != 0.f;
}

template <typename T>
__global__ void countKernel(const T* __restrict__ x, int64_t n, unsigned long long* count) {
  using Reduce = cub::BlockReduce<int, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  int local = 0;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * kThreads)
    local += isNonZero(x, i);
  const int total = Reduce(tmp).Sum(local);
  if (threadIdx.x == 0 && total) atomicAdd(count, static_cast<unsigned long long>(total));
}

struct Dims {
  int64_t d[kMaxDims];
  int32_t rank;
};

template <typename T>
__global__ void scatterKernel(const T* __restrict__ x, int64_t n, Dims dims,
                              const int64_t* __restrict__ count, int64_t* __restrict__ y) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage tmp;
  __shared__ int64_t base;
  if (threadIdx.x == 0) base = 0;
  const int64_t total = *count;
  __syncthreads();
  for (int64_t start = 0; start < n; start += kThreads) {
    const int64_t i = start + threadIdx.x;
    const int flag = i < n ? isNonZero(x, i) : 0;
    int pos, tileCount;
    Scan(tmp).ExclusiveSum(flag, pos, tileCount);
    if (flag) {
      const int64_t k = base + pos;
      int64_t rest = i;
      for (int d = dims.rank - 1; d >= 0; --d) {
        y[d * total + k] = rest % dims.d[d];
        rest /= dims.d[d];
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) base += tileCount;
    __syncthreads();
  }
}

template <typename T>
cudaError_t run(const void* xv, const Dims& dims, int64_t n, int64_t* y, int64_t* count,
                cudaStream_t stream) {
  const T* x = static_cast<const T*>(xv);
  cudaError_t err = cudaMemsetAsync(count, 0, sizeof(int64_t), stream);
  if (err != cudaSuccess) return err;
  if (n == 0) return cudaSuccess;
  const int64_t want = (n + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(want < 1024 ? want : 1024);
  countKernel<T><<<blocks, kThreads, 0, stream>>>(x, n,
                                                  reinterpret_cast<unsigned long long*>(count));
  scatterKernel<T><<<1, kThreads, 0, stream>>>(x, n, dims, count, y);
  return cudaGetLastError();
}

}  // namespace

cudaError_t nonZeroForward(const void* x, DType t, const int64_t* dims, int32_t rank, int64_t n,
                           int64_t* y, int64_t* count, cudaStream_t stream) {
  if (rank > kMaxDims) return cudaErrorInvalidValue;
  Dims d{};
  d.rank = rank;
  for (int i = 0; i < rank; ++i) d.d[i] = dims[i];
  switch (t) {
    case DType::kFLOAT: return run<float>(x, d, n, y, count, stream);
    case DType::kHALF: return run<__half>(x, d, n, y, count, stream);
    case DType::kBF16: return run<__nv_bfloat16>(x, d, n, y, count, stream);
    case DType::kINT32: return run<int32_t>(x, d, n, y, count, stream);
    case DType::kINT64: return run<int64_t>(x, d, n, y, count, stream);
    case DType::kINT8: return run<int8_t>(x, d, n, y, count, stream);
    case DType::kUINT8: case DType::kBOOL: return run<uint8_t>(x, d, n, y, count, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace trtforge
