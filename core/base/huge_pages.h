// Asking the kernel for transparent huge pages under a large array that is about to be filled.
//
// A 1M-request simulation writes a 128 MB array of request records: with 4 KiB pages that is
// 32,000 page faults, each expensive in a virtual machine; with 2 MiB pages it is 64. Linux only
// (madvise(MADV_HUGEPAGE), effective when /sys/kernel/mm/transparent_hugepage/enabled is
// "always" or "madvise"); a no-op elsewhere, for arrays under 4 MiB, and when the kernel says no.
// It changes no value, only how the memory is mapped. Call it before the memory is first touched.
#pragma once

#include <cstddef>

namespace flowkv::core {

void advise_huge_pages(const void* data, size_t bytes);

}  // namespace flowkv::core
