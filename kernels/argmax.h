// Greedy sampling: the index of the largest logit of each row, ties to the lowest index. NaN
// counts as smaller than every number (a row of NaN gives 0). The result does not depend on the
// reduction order, so it is the same for any grid.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace flowkv::kernels {

void argmax_rows(const float* logits,  // [num_rows][vocab] f32
                 int64_t num_rows, int32_t vocab,
                 int32_t* out,         // [num_rows]
                 cudaStream_t stream);

}  // namespace flowkv::kernels
