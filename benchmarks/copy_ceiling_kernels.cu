// Copy and read-only kernels for benchmarks/copy_ceiling.py (compiled there by CuPy/NVRTC; also
// compiles with `nvcc -arch=sm_90 -cubin` for a resource report / SASS check).
//
// All kernels move 16-byte words (uint4); the byte count must be a multiple of 16 and the
// pointers 16-byte aligned (true for every tensor of the benchmark).
//
// HINT selects the memory instructions (inline PTX so the choice is exact):
//   0 plain   : ld.global.v4 / st.global.v4 (default caching; with __restrict__ the compiler
//               would itself turn *p into ld.global.nc, so it is written out)
//   1 cs      : ld.global.cs / st.global.cs (streaming, evict-first; = __ldcs/__stcs)
//   2 nc      : ld.global.nc (read-only path; = __ldg) / plain store
//   3 nc_stcs : ld.global.nc / st.global.cs
//   4 nc256   : ld.global.nc.L1::no_allocate.L2::256B (256-byte L2 prefetch hint) / plain store

typedef unsigned long long u64;

template <int HINT>
__device__ __forceinline__ uint4 ld16(const uint4* p) {
    uint4 v;
    if (HINT == 0) {
        asm volatile("ld.global.v4.u32 {%0,%1,%2,%3}, [%4];"
                     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                     : "l"(p));
    } else if (HINT == 1) {
        asm volatile("ld.global.cs.v4.u32 {%0,%1,%2,%3}, [%4];"
                     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                     : "l"(p));
    } else if (HINT == 2 || HINT == 3) {
        asm volatile("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];"
                     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                     : "l"(p));
    } else {
        asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
                     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                     : "l"(p));
    }
    return v;
}

template <int HINT>
__device__ __forceinline__ void st16(uint4* p, uint4 v) {
    if (HINT == 1 || HINT == 3) {
        asm volatile("st.global.cs.v4.u32 [%0], {%1,%2,%3,%4};" ::"l"(p), "r"(v.x), "r"(v.y),
                     "r"(v.z), "r"(v.w)
                     : "memory");
    } else {
        asm volatile("st.global.v4.u32 [%0], {%1,%2,%3,%4};" ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z),
                     "r"(v.w)
                     : "memory");
    }
}

// Grid-stride copy, V 16-byte words per thread per iteration, spaced one grid apart (every
// load and store instruction of a warp covers 512 contiguous bytes). All V loads are issued
// before the V stores.
template <int V, int HINT>
__global__ void copy_gs(const uint4* __restrict__ x, uint4* __restrict__ y, long long n) {
    const long long stride = (long long)blockDim.x * gridDim.x;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + (V - 1) * stride < n; i += V * stride) {
        uint4 r[V];
#pragma unroll
        for (int j = 0; j < V; ++j) r[j] = ld16<HINT>(x + i + j * stride);
#pragma unroll
        for (int j = 0; j < V; ++j) st16<HINT>(y + i + j * stride, r[j]);
    }
    for (; i < n; i += stride) st16<HINT>(y + i, ld16<HINT>(x + i));
}

// One block per chunk of blockDim*V words (no grid-stride loop); grid = ceil(n / (blockDim*V)).
template <int V, int HINT>
__global__ void copy_chunk(const uint4* __restrict__ x, uint4* __restrict__ y, long long n) {
    const long long base = (long long)blockIdx.x * blockDim.x * V + threadIdx.x;
    uint4 r[V];
#pragma unroll
    for (int j = 0; j < V; ++j) {
        const long long k = base + (long long)j * blockDim.x;
        if (k < n) r[j] = ld16<HINT>(x + k);
    }
#pragma unroll
    for (int j = 0; j < V; ++j) {
        const long long k = base + (long long)j * blockDim.x;
        if (k < n) st16<HINT>(y + k, r[j]);
    }
}

// Read-only: sum of X as signed 32-bit words into a 64-bit total (*out += sum, one atomic per
// block). Reads X once, writes nothing of its size.
template <int V, int HINT>
__global__ void sum_gs(const uint4* __restrict__ x, long long n, u64* out) {
    const long long stride = (long long)blockDim.x * gridDim.x;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long acc = 0;
    for (; i + (V - 1) * stride < n; i += V * stride) {
        uint4 r[V];
#pragma unroll
        for (int j = 0; j < V; ++j) r[j] = ld16<HINT>(x + i + j * stride);
#pragma unroll
        for (int j = 0; j < V; ++j)
            acc += (long long)(int)r[j].x + (int)r[j].y + (long long)(int)r[j].z + (int)r[j].w;
    }
    for (; i < n; i += stride) {
        const uint4 r = ld16<HINT>(x + i);
        acc += (long long)(int)r.x + (int)r.y + (long long)(int)r.z + (int)r.w;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
    __shared__ long long part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = acc;
    __syncthreads();
    if (warp == 0) {
        acc = lane < (int)(blockDim.x >> 5) ? part[lane] : 0;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
        if (lane == 0) atomicAdd(out, (u64)acc);
    }
}

// Hopper bulk-copy engine (cp.async.bulk, "TMA" without a tensor map): one thread per block
// moves chunks global -> shared -> global through a ring of S stages; blocks take chunks in a
// grid-stride order. Loads complete on an mbarrier; a stage is refilled only after the bulk
// store that reads it has finished reading (cp.async.bulk.wait_group.read). A wait that spins
// 2^26 times traps (an error, not a hang).
__device__ __forceinline__ unsigned smem_addr(const void* p) {
    unsigned a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

__device__ __forceinline__ void bulk_load(unsigned dst, const char* src, unsigned bytes,
                                          unsigned bar) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
                 : "memory");
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
            dst),
        "l"(src), "r"(bytes), "r"(bar)
        : "memory");
}

__device__ __forceinline__ void bar_wait(unsigned bar, unsigned parity) {
    unsigned done = 0;
    for (long long spin = 0; spin < (1ll << 26); ++spin) {
        asm volatile(
            "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, "
            "0, p; }"
            : "=r"(done)
            : "r"(bar), "r"(parity)
            : "memory");
        if (done) return;
    }
    __trap();
}

template <int S>
__global__ void copy_bulk(const char* __restrict__ x, char* __restrict__ y, long long nbytes,
                          int chunk) {
    extern __shared__ uint4 buf[];  // uint4: 16-byte aligned, as the bulk copies need
    __shared__ u64 bars[S];
    if (threadIdx.x != 0) return;
    const long long nchunks = (nbytes + chunk - 1) / chunk;
    // this block's chunks: blockIdx.x, blockIdx.x + gridDim.x, ...
    const long long mine =
        blockIdx.x < nchunks ? (nchunks - 1 - blockIdx.x) / gridDim.x + 1 : 0;
    if (mine == 0) return;
    for (int s = 0; s < S; ++s)
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(smem_addr(&bars[s])) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    const unsigned base = smem_addr(buf);
    auto issue = [&](long long it) {
        const long long c = blockIdx.x + it * gridDim.x;
        const long long off = c * chunk;
        const unsigned bytes = (unsigned)(nbytes - off < chunk ? nbytes - off : chunk);
        const int s = (int)(it % S);
        bulk_load(base + s * chunk, x + off, bytes, smem_addr(&bars[s]));
    };
    for (long long it = 0; it < S - 1 && it < mine; ++it) issue(it);
    for (long long it = 0; it < mine; ++it) {
        if (it + S - 1 < mine) {
            // stage (it+S-1)%S was last read by the store of chunk it-1: wait until it is read
            asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");
            issue(it + S - 1);
        }
        const int s = (int)(it % S);
        bar_wait(smem_addr(&bars[s]), (unsigned)((it / S) & 1));
        const long long off = (blockIdx.x + it * gridDim.x) * chunk;
        const unsigned bytes = (unsigned)(nbytes - off < chunk ? nbytes - off : chunk);
        asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;" ::"l"(y + off),
                     "r"(base + s * chunk), "r"(bytes)
                     : "memory");
        asm volatile("cp.async.bulk.commit_group;" ::: "memory");
    }
    asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
}
