// bf16 GEMMs through cuBLASLt: Y[m][n] (+)= X[m][k] . W[n][k]^T, float32 accumulate, with the
// weights W row-major as stored ([out][in]). Y is bf16 or float32 (the residual stream and the
// logits are float32; `accumulate` adds into Y, which fuses the residual add of o_proj and down).
//
// Batch invariance. A row of Y must not depend on how many rows are computed with it. cuBLASLt's
// heuristic picks a kernel per problem size, and split-K schemes change the reduction order with
// it, so under GemmAlgoPolicy::kFixedPerShape every shape (n, k, output, accumulate) uses ONE
// algorithm for every m: the heuristic's first answer for `reference_rows` rows among algorithms
// without split-K reduction (reduction scheme NONE), preferring those that need no workspace
// (where split and stream-K schemes keep partial sums), chosen once (choose_gemm_algo) and shared
// read-only by every runner of the device. A runner checks the algorithm with
// cublasLtMatmulAlgoCheck for each new m; if cuBLASLt refuses it for that m, the runner runs the
// heuristic's pick for that m instead and counts it in fallbacks() (invariance is then not
// guaranteed for that m). Under kHeuristicPerRows every m gets the heuristic's pick (with the
// same preferences): faster for small m, invariant only as far as cuBLASLt's kernels agree (on
// Hopper they reportedly do once split-K is off; executor_bench checks it on the device).
//
// Threading: a GemmRunner (handle, workspace, descriptor cache) belongs to one thread / stream.
// Pointers must be 256-byte aligned (the heuristic's default minimum alignment; checked).
// Errors: FLOWKV_CUBLAS_CHECK (core::Error kRuntime); no algorithm at all is kUnsupported.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace flowkv::kernels {

enum class GemmOutput { kBf16, kF32 };
enum class GemmAlgoPolicy { kFixedPerShape, kHeuristicPerRows };
const char* to_string(GemmAlgoPolicy policy);

struct GemmShape {
  int64_t n = 0;  // output columns (weight rows)
  int64_t k = 0;  // inner dimension (weight columns)
  GemmOutput output = GemmOutput::kBf16;
  bool accumulate = false;  // Y += X W^T (Y, the same buffer, is read as C)
  auto operator<=>(const GemmShape&) const = default;
};

struct GemmAlgo {
  cublasLtMatmulAlgo_t algo{};
  int64_t workspace_bytes = 0;
  std::string description;  // "algo 66 tile 20 stages 3 splitk 1 ..." for reports
};

class CublasLtHandle {
 public:
  CublasLtHandle();
  ~CublasLtHandle();
  CublasLtHandle(const CublasLtHandle&) = delete;
  CublasLtHandle& operator=(const CublasLtHandle&) = delete;
  cublasLtHandle_t get() const { return handle_; }

 private:
  cublasLtHandle_t handle_ = nullptr;
};

// The algorithm `shape` uses for every row count (see above). The candidate must also pass
// AlgoCheck for 1 row and for reference_rows rows within workspace_bytes. kUnsupported if none.
GemmAlgo choose_gemm_algo(cublasLtHandle_t handle, const GemmShape& shape, int64_t reference_rows,
                          int64_t workspace_bytes);

using GemmAlgoTable = std::map<GemmShape, GemmAlgo>;

class GemmRunner {
 public:
  // `fixed`: the device's algorithms (kFixedPerShape); null runs the heuristic per m. The
  // runner allocates its workspace (device memory of the current device).
  GemmRunner(std::shared_ptr<const GemmAlgoTable> fixed, int64_t workspace_bytes);
  ~GemmRunner();
  GemmRunner(const GemmRunner&) = delete;
  GemmRunner& operator=(const GemmRunner&) = delete;

  void run(const GemmShape& shape,
           const __nv_bfloat16* x,  // [m][k] bf16
           int64_t m,
           const __nv_bfloat16* w,  // [n][k] bf16
           void* y,                 // [m][n] bf16 or f32 (shape.output)
           cudaStream_t stream);

  // Row counts whose fixed algorithm cuBLASLt refused (the heuristic's pick ran instead).
  int64_t fallbacks() const { return fallbacks_; }
  // The algorithm run for (shape, m), once it has run: for reports.
  std::string describe(const GemmShape& shape, int64_t m) const;

 private:
  struct Plan;
  Plan& plan(const GemmShape& shape, int64_t m);

  std::shared_ptr<const GemmAlgoTable> fixed_;
  CublasLtHandle handle_;
  void* workspace_ = nullptr;
  int64_t workspace_bytes_ = 0;
  int64_t fallbacks_ = 0;
  std::map<std::pair<GemmShape, int64_t>, std::unique_ptr<Plan>> plans_;
};

}  // namespace flowkv::kernels
