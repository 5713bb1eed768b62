// NonMaxSuppression: (1) one block per (batch, class) ranks the boxes above the score threshold
// by descending score (ties: lower index first; each thread counts the candidates ahead of its
// boxes), then walks them in that order, each kept box marking the later ones it suppresses in
// parallel; (2) one thread turns the per-(batch, class) counts into output offsets and the total
// K; (3) every block copies its kept boxes to its offset. Workspace: rank order and suppression
// flags per box, kept lists, counts and offsets.
#include <cub/block/block_reduce.cuh>

#include "nms/nms_kernel.h"

namespace trtforge {
namespace {

constexpr int kThreads = 256;

struct Layout {
  int32_t* order;       // [pairs, boxes]
  uint8_t* suppressed;  // [pairs, boxes]
  int32_t* kept;        // [pairs, perClass]
  int32_t* keptCount;   // [pairs]
  int64_t* offsets;     // [pairs]
};

size_t align256(size_t n) { return (n + 255) & ~size_t(255); }

int64_t perClassOf(int64_t boxes, int64_t maxPerClass) {
  return maxPerClass < 0 ? 0 : (maxPerClass < boxes ? maxPerClass : boxes);
}

Layout layout(void* ws, int64_t pairs, int64_t boxes, int64_t perClass) {
  char* p = static_cast<char*>(ws);
  Layout l;
  l.order = reinterpret_cast<int32_t*>(p);
  p += align256(pairs * boxes * sizeof(int32_t));
  l.suppressed = reinterpret_cast<uint8_t*>(p);
  p += align256(pairs * boxes);
  l.kept = reinterpret_cast<int32_t*>(p);
  p += align256(pairs * perClass * sizeof(int32_t));
  l.keptCount = reinterpret_cast<int32_t*>(p);
  p += align256(pairs * sizeof(int32_t));
  l.offsets = reinterpret_cast<int64_t*>(p);
  return l;
}

__device__ void corners(const float* b, bool center, float& x1, float& y1, float& x2, float& y2) {
  if (center) {
    x1 = b[0] - b[2] / 2.f;
    x2 = b[0] + b[2] / 2.f;
    y1 = b[1] - b[3] / 2.f;
    y2 = b[1] + b[3] / 2.f;
  } else {
    y1 = fminf(b[0], b[2]);
    y2 = fmaxf(b[0], b[2]);
    x1 = fminf(b[1], b[3]);
    x2 = fmaxf(b[1], b[3]);
  }
}

__device__ bool iouAbove(const float* a, const float* b, bool center, float threshold) {
  float ax1, ay1, ax2, ay2, bx1, by1, bx2, by2;
  corners(a, center, ax1, ay1, ax2, ay2);
  corners(b, center, bx1, by1, bx2, by2);
  const float iw = fminf(ax2, bx2) - fmaxf(ax1, bx1);
  const float ih = fminf(ay2, by2) - fmaxf(ay1, by1);
  if (iw <= 0.f || ih <= 0.f) return false;
  const float inter = iw * ih;
  const float areaA = (ax2 - ax1) * (ay2 - ay1), areaB = (bx2 - bx1) * (by2 - by1);
  if (areaA <= 0.f || areaB <= 0.f) return false;
  return inter / (areaA + areaB - inter) > threshold;
}

__global__ void selectKernel(NmsParams p, Layout l, int64_t perClass) {
  using Reduce = cub::BlockReduce<int, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ int candidates;
  __shared__ int keptSoFar;
  const int64_t pair = blockIdx.x;  // batch * classes + class
  const int64_t b = pair / p.classes;
  const float* s = p.scores + pair * p.nBoxes;
  const float* boxes = p.boxes + b * p.nBoxes * 4;
  int32_t* order = l.order + pair * p.nBoxes;
  uint8_t* suppressed = l.suppressed + pair * p.nBoxes;
  int32_t* kept = l.kept + pair * perClass;

  int mine = 0;
  for (int64_t i = threadIdx.x; i < p.nBoxes; i += kThreads) {
    const float si = s[i];
    if (!(si > p.scoreThreshold)) continue;
    ++mine;
    int64_t rank = 0;
    for (int64_t j = 0; j < p.nBoxes; ++j) {
      const float sj = s[j];
      rank += (sj > p.scoreThreshold) && (sj > si || (sj == si && j < i));
    }
    order[rank] = static_cast<int32_t>(i);
  }
  const int total = Reduce(tmp).Sum(mine);
  if (threadIdx.x == 0) {
    candidates = total;
    keptSoFar = 0;
  }
  __syncthreads();
  for (int64_t q = threadIdx.x; q < candidates; q += kThreads) suppressed[q] = 0;
  __syncthreads();
  for (int pos = 0; pos < candidates && keptSoFar < perClass; ++pos) {
    if (!suppressed[pos]) {  // every thread reads the same flag: uniform branch
      const float* a = boxes + int64_t(order[pos]) * 4;
      for (int64_t q = pos + 1 + threadIdx.x; q < candidates; q += kThreads)
        if (!suppressed[q] && iouAbove(a, boxes + int64_t(order[q]) * 4, p.centerPointBox,
                                       p.iouThreshold))
          suppressed[q] = 1;
      __syncthreads();
      if (threadIdx.x == 0) kept[keptSoFar++] = order[pos];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) l.keptCount[pair] = keptSoFar;
}

__global__ void offsetsKernel(Layout l, int64_t pairs, int64_t* count) {
  int64_t total = 0;
  for (int64_t i = 0; i < pairs; ++i) {
    l.offsets[i] = total;
    total += l.keptCount[i];
  }
  *count = total;
}

__global__ void writeKernel(NmsParams p, Layout l, int64_t perClass) {
  const int64_t pair = blockIdx.x;
  const int64_t b = pair / p.classes, c = pair % p.classes;
  const int n = l.keptCount[pair];
  int64_t* out = p.selected + l.offsets[pair] * 3;
  for (int k = threadIdx.x; k < n; k += kThreads) {
    out[k * 3 + 0] = b;
    out[k * 3 + 1] = c;
    out[k * 3 + 2] = l.kept[pair * perClass + k];
  }
}

}  // namespace

size_t nmsWorkspaceSize(int64_t batch, int64_t classes, int64_t boxes, int64_t maxPerClass) {
  const int64_t pairs = batch * classes;
  const int64_t perClass = perClassOf(boxes, maxPerClass);
  return align256(pairs * boxes * sizeof(int32_t)) + align256(pairs * boxes) +
         align256(pairs * perClass * sizeof(int32_t)) + align256(pairs * sizeof(int32_t)) +
         align256(pairs * sizeof(int64_t));
}

cudaError_t nmsForward(const NmsParams& p, void* workspace, cudaStream_t stream) {
  const int64_t pairs = p.batch * p.classes;
  const int64_t perClass = perClassOf(p.nBoxes, p.maxPerClass);
  if (pairs == 0 || perClass == 0 || p.nBoxes == 0)
    return cudaMemsetAsync(p.count, 0, sizeof(int64_t), stream);
  if (workspace == nullptr) return cudaErrorInvalidValue;
  const Layout l = layout(workspace, pairs, p.nBoxes, perClass);
  selectKernel<<<static_cast<unsigned>(pairs), kThreads, 0, stream>>>(p, l, perClass);
  offsetsKernel<<<1, 1, 0, stream>>>(l, pairs, p.count);
  writeKernel<<<static_cast<unsigned>(pairs), kThreads, 0, stream>>>(p, l, perClass);
  return cudaGetLastError();
}

}  // namespace trtforge
