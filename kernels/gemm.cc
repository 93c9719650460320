#include "kernels/gemm.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

constexpr int kHeuristicCandidates = 16;
constexpr size_t kMaxCachedPlans = 4096;
constexpr uintptr_t kAlignment = 256;

cudaDataType_t output_type(GemmOutput o) {
  return o == GemmOutput::kBf16 ? CUDA_R_16BF : CUDA_R_32F;
}

// The descriptors of one problem (shape, m). In cuBLASLt's column-major terms: D (n x m, ld n)
// = op(A) B with A = W stored k x n (ld k) and op = transpose, B = X stored k x m (ld k).
struct Descriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr;
  cublasLtMatrixLayout_t b = nullptr;
  cublasLtMatrixLayout_t c = nullptr;  // C and D: the same buffer and layout

  Descriptors(const GemmShape& s, int64_t m) {
    FLOWKV_CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t transa = CUBLAS_OP_T;
    const cublasOperation_t transb = CUBLAS_OP_N;
    FLOWKV_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &transa,
                                                       sizeof(transa)));
    FLOWKV_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &transb,
                                                       sizeof(transb)));
    FLOWKV_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a, CUDA_R_16BF, static_cast<uint64_t>(s.k),
                                                   static_cast<uint64_t>(s.n), s.k));
    FLOWKV_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&b, CUDA_R_16BF, static_cast<uint64_t>(s.k),
                                                   static_cast<uint64_t>(m), s.k));
    FLOWKV_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c, output_type(s.output),
                                                   static_cast<uint64_t>(s.n),
                                                   static_cast<uint64_t>(m), s.n));
  }
  ~Descriptors() {
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

std::string shape_name(const GemmShape& s) {
  return "n " + std::to_string(s.n) + " k " + std::to_string(s.k) +
         (s.output == GemmOutput::kBf16 ? " bf16" : " f32") + (s.accumulate ? " accumulate" : "");
}

template <typename T>
int64_t config(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoConfigAttributes_t attr) {
  T value{};
  size_t written = 0;
  if (cublasLtMatmulAlgoConfigGetAttribute(&algo, attr, &value, sizeof(value), &written) !=
      CUBLAS_STATUS_SUCCESS) {
    return -1;
  }
  return static_cast<int64_t>(value);
}

bool splits_k(const cublasLtMatmulAlgo_t& algo) {
  return config<int32_t>(algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM) > 1 ||
         config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME) > 0;
}

std::string describe_algo(const cublasLtMatmulAlgo_t& algo) {
  return "algo " + std::to_string(config<int32_t>(algo, CUBLASLT_ALGO_CONFIG_ID)) + " tile " +
         std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_TILE_ID)) + " stages " +
         std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_STAGES_ID)) + " splitk " +
         std::to_string(config<int32_t>(algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM)) + " reduction " +
         std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME)) +
         " swizzle " + std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING)) +
         " custom " + std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION)) +
         " cluster " +
         std::to_string(config<uint16_t>(algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID)) +
         " inner " + std::to_string(config<uint16_t>(algo, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID));
}

// The heuristic's candidates, best first, without split-K reduction: asked with the reduction
// scheme mask NONE (cuBLASLt's documented way), and filtered on the algorithms' own configuration
// in case the mask lets one through.
std::vector<cublasLtMatmulHeuristicResult_t> heuristic_query(cublasLtHandle_t handle,
                                                             const Descriptors& d,
                                                             int64_t workspace_bytes,
                                                             bool mask_reductions) {
  cublasLtMatmulPreference_t pref = nullptr;
  FLOWKV_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  std::array<cublasLtMatmulHeuristicResult_t, kHeuristicCandidates> results{};
  int returned = 0;
  try {
    const uint64_t max_workspace = static_cast<uint64_t>(workspace_bytes);
    const uint32_t reduction_mask = CUBLASLT_REDUCTION_SCHEME_NONE;
    FLOWKV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_workspace, sizeof(max_workspace)));
    if (mask_reductions) {
      FLOWKV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &reduction_mask,
          sizeof(reduction_mask)));
    }
    const cublasStatus_t status =
        cublasLtMatmulAlgoGetHeuristic(handle, d.op, d.a, d.b, d.c, d.c, pref,
                                       kHeuristicCandidates, results.data(), &returned);
    if (status != CUBLAS_STATUS_NOT_SUPPORTED) FLOWKV_CUBLAS_CHECK(status);
  } catch (...) {
    cublasLtMatmulPreferenceDestroy(pref);
    throw;
  }
  cublasLtMatmulPreferenceDestroy(pref);
  std::vector<cublasLtMatmulHeuristicResult_t> out;
  for (int i = 0; i < returned; ++i) {
    if (results[i].state == CUBLAS_STATUS_SUCCESS && !splits_k(results[i].algo) &&
        static_cast<int64_t>(results[i].workspaceSize) <= workspace_bytes) {
      out.push_back(results[i]);
    }
  }
  return out;
}

std::vector<cublasLtMatmulHeuristicResult_t> heuristic(cublasLtHandle_t handle,
                                                       const Descriptors& d,
                                                       int64_t workspace_bytes) {
  auto out = heuristic_query(handle, d, workspace_bytes, true);
  if (out.empty()) out = heuristic_query(handle, d, workspace_bytes, false);
  return out;
}

// Candidates that need no workspace first (split and stream-K schemes keep partial sums there,
// and their split can depend on the row count), then the others.
std::vector<cublasLtMatmulHeuristicResult_t> ranked_candidates(cublasLtHandle_t handle,
                                                               const Descriptors& d,
                                                               int64_t workspace_bytes) {
  auto out = heuristic(handle, d, 0);
  for (const auto& c : heuristic(handle, d, workspace_bytes)) out.push_back(c);
  return out;
}

bool algo_valid(cublasLtHandle_t handle, const Descriptors& d, const cublasLtMatmulAlgo_t& algo,
                int64_t workspace_bytes) {
  cublasLtMatmulHeuristicResult_t result{};
  return cublasLtMatmulAlgoCheck(handle, d.op, d.a, d.b, d.c, d.c, &algo, &result) ==
             CUBLAS_STATUS_SUCCESS &&
         static_cast<int64_t>(result.workspaceSize) <= workspace_bytes;
}

}  // namespace

const char* to_string(GemmAlgoPolicy policy) {
  return policy == GemmAlgoPolicy::kFixedPerShape ? "fixed-per-shape" : "heuristic-per-rows";
}

CublasLtHandle::CublasLtHandle() { FLOWKV_CUBLAS_CHECK(cublasLtCreate(&handle_)); }
CublasLtHandle::~CublasLtHandle() {
  if (handle_) cublasLtDestroy(handle_);
}

GemmAlgo choose_gemm_algo(cublasLtHandle_t handle, const GemmShape& shape, int64_t reference_rows,
                          int64_t workspace_bytes) {
  FLOWKV_CHECK(shape.n > 0 && shape.k > 0 && reference_rows > 0, "empty GEMM shape");
  const Descriptors reference(shape, reference_rows);
  const Descriptors one_row(shape, 1);
  for (const auto& candidate : ranked_candidates(handle, reference, workspace_bytes)) {
    if (algo_valid(handle, one_row, candidate.algo, workspace_bytes) &&
        algo_valid(handle, reference, candidate.algo, workspace_bytes)) {
      return GemmAlgo{candidate.algo, static_cast<int64_t>(candidate.workspaceSize),
                      describe_algo(candidate.algo)};
    }
  }
  throw core::Error(core::ErrorKind::kUnsupported,
                    "cuBLASLt has no bf16 GEMM algorithm without split-K for " + shape_name(shape) +
                        " valid for 1 and " + std::to_string(reference_rows) + " rows");
}

struct GemmRunner::Plan {
  Plan(const GemmShape& shape, int64_t m) : desc(shape, m) {}
  Descriptors desc;
  cublasLtMatmulAlgo_t algo{};
  std::string description;
};

GemmRunner::GemmRunner(std::shared_ptr<const GemmAlgoTable> fixed, int64_t workspace_bytes)
    : fixed_(std::move(fixed)), workspace_bytes_(workspace_bytes) {
  FLOWKV_CHECK(workspace_bytes >= 0, "negative GEMM workspace");
  if (workspace_bytes > 0) {
    FLOWKV_CUDA_CHECK(cudaMalloc(&workspace_, static_cast<size_t>(workspace_bytes)));
  }
}

GemmRunner::~GemmRunner() {
  plans_.clear();
  if (workspace_) cudaFree(workspace_);
}

GemmRunner::Plan& GemmRunner::plan(const GemmShape& shape, int64_t m) {
  const auto key = std::make_pair(shape, m);
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  if (plans_.size() >= kMaxCachedPlans) plans_.clear();
  auto p = std::make_unique<Plan>(shape, m);
  bool chosen = false;
  if (fixed_) {
    auto f = fixed_->find(shape);
    FLOWKV_CHECK(f != fixed_->end(), "no fixed GEMM algorithm for " + shape_name(shape));
    if (algo_valid(handle_.get(), p->desc, f->second.algo, workspace_bytes_)) {
      p->algo = f->second.algo;
      p->description = f->second.description;
      chosen = true;
    } else {
      ++fallbacks_;
    }
  }
  if (!chosen) {
    const auto candidates = ranked_candidates(handle_.get(), p->desc, workspace_bytes_);
    if (candidates.empty()) {
      throw core::Error(core::ErrorKind::kUnsupported,
                        "cuBLASLt has no bf16 GEMM algorithm without split-K for " +
                            shape_name(shape) + " and " + std::to_string(m) + " rows");
    }
    p->algo = candidates.front().algo;
    p->description = describe_algo(p->algo) + (fixed_ ? " (fallback)" : "");
  }
  return *plans_.emplace(key, std::move(p)).first->second;
}

void GemmRunner::run(const GemmShape& shape, const __nv_bfloat16* x, int64_t m,
                     const __nv_bfloat16* w, void* y, cudaStream_t stream) {
  if (m <= 0) return;
  FLOWKV_CHECK(reinterpret_cast<uintptr_t>(x) % kAlignment == 0 &&
                   reinterpret_cast<uintptr_t>(w) % kAlignment == 0 &&
                   reinterpret_cast<uintptr_t>(y) % kAlignment == 0,
               "GEMM operands must be 256-byte aligned (" + shape_name(shape) + ")");
  Plan& p = plan(shape, m);
  const float alpha = 1.0f;
  const float beta = shape.accumulate ? 1.0f : 0.0f;
  FLOWKV_CUBLAS_CHECK(cublasLtMatmul(handle_.get(), p.desc.op, &alpha, w, p.desc.a, x, p.desc.b,
                                     &beta, y, p.desc.c, y, p.desc.c, &p.algo, workspace_,
                                     static_cast<size_t>(workspace_bytes_), stream));
}

std::string GemmRunner::describe(const GemmShape& shape, int64_t m) const {
  auto it = plans_.find(std::make_pair(shape, m));
  return it == plans_.end() ? std::string("not run") : it->second->description;
}

}  // namespace flowkv::kernels
