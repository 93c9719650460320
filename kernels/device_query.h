// Whether this process can use a CUDA device: GPU tests skip, and GPU commands refuse, when not.
#pragma once

namespace flowkv::kernels {

// cudaGetDeviceCount succeeds and reports at least one device. Never throws; clears the error
// the failed query leaves behind, so that it does not surface in a later check.
bool cuda_device_present();

}  // namespace flowkv::kernels
