// ROIAlign: one thread per output element (roi, channel, bin row, bin column), bilinear
// samples on a grid inside the bin, averaged (avg) or the maximum over samples of the largest
// weighted corner term (max) — onnxruntime's definition, which the tests hold it to.
#include <cuda_fp16.h>

#include "roialign/roialign_kernel.h"

namespace trtforge {
namespace {

__device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float load(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__half* p, int64_t i, float v) { p[i] = __float2half(v); }

template <typename T>
__global__ void roiAlignKernel(RoiAlignParams p) {
  const int64_t total = p.r * p.c * p.oh * p.ow;
  const T* x = static_cast<const T*>(p.x);
  const T* rois = static_cast<const T*>(p.rois);
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int pw = static_cast<int>(idx % p.ow);
    const int ph = static_cast<int>((idx / p.ow) % p.oh);
    const int64_t ch = (idx / (int64_t(p.ow) * p.oh)) % p.c;
    const int64_t r = idx / (int64_t(p.ow) * p.oh * p.c);
    const int64_t b = p.batch[r];
    if (b < 0 || b >= p.n) {
      store(static_cast<T*>(p.y), idx, 0.f);
      continue;
    }
    const float offset = p.halfPixel ? 0.5f : 0.f;
    const float x1 = load(rois, r * 4 + 0) * p.spatialScale - offset;
    const float y1 = load(rois, r * 4 + 1) * p.spatialScale - offset;
    const float x2 = load(rois, r * 4 + 2) * p.spatialScale - offset;
    const float y2 = load(rois, r * 4 + 3) * p.spatialScale - offset;
    float rw = x2 - x1, rh = y2 - y1;
    if (!p.halfPixel) {
      rw = fmaxf(rw, 1.f);
      rh = fmaxf(rh, 1.f);
    }
    const float bh = rh / p.oh, bw = rw / p.ow;
    const int gh = p.samplingRatio > 0 ? p.samplingRatio : static_cast<int>(ceilf(rh / p.oh));
    const int gw = p.samplingRatio > 0 ? p.samplingRatio : static_cast<int>(ceilf(rw / p.ow));
    const float count = fmaxf(static_cast<float>(gh * gw), 1.f);
    const T* img = x + (b * p.c + ch) * p.h * p.w;
    float acc = 0.f;
    bool first = true;
    for (int iy = 0; iy < gh; ++iy) {
      float yy = y1 + ph * bh + (iy + 0.5f) * bh / gh;
      for (int ix = 0; ix < gw; ++ix) {
        float xx = x1 + pw * bw + (ix + 0.5f) * bw / gw;
        float v = 0.f;
        if (!(yy < -1.f || yy > p.h || xx < -1.f || xx > p.w)) {
          float ys = fmaxf(yy, 0.f), xs = fmaxf(xx, 0.f);
          int64_t y0 = static_cast<int64_t>(ys), x0 = static_cast<int64_t>(xs), yh, xh;
          if (y0 >= p.h - 1) { y0 = yh = p.h - 1; ys = static_cast<float>(y0); } else { yh = y0 + 1; }
          if (x0 >= p.w - 1) { x0 = xh = p.w - 1; xs = static_cast<float>(x0); } else { xh = x0 + 1; }
          const float ly = ys - y0, lx = xs - x0, hy = 1.f - ly, hx = 1.f - lx;
          const float t1 = hy * hx * load(img, y0 * p.w + x0);
          const float t2 = hy * lx * load(img, y0 * p.w + xh);
          const float t3 = ly * hx * load(img, yh * p.w + x0);
          const float t4 = ly * lx * load(img, yh * p.w + xh);
          v = p.avg ? t1 + t2 + t3 + t4 : fmaxf(fmaxf(t1, t2), fmaxf(t3, t4));
        }
        if (p.avg) {
          acc += v;
        } else {
          acc = first ? v : fmaxf(acc, v);
          first = false;
        }
      }
    }
    store(static_cast<T*>(p.y), idx, p.avg ? acc / count : acc);
  }
}

}  // namespace

cudaError_t roiAlignForward(const RoiAlignParams& p, DType t, cudaStream_t stream) {
  const int64_t total = p.r * p.c * p.oh * p.ow;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  const int64_t want = (total + threads - 1) / threads;
  const int blocks = static_cast<int>(want < 65535 ? want : 65535);
  if (t == DType::kFLOAT) roiAlignKernel<float><<<blocks, threads, 0, stream>>>(p);
  else if (t == DType::kHALF) roiAlignKernel<__half><<<blocks, threads, 0, stream>>>(p);
  else return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace trtforge
