// Backend: the only thing the controller knows about the world it drives.
//
// Implemented once by the simulator (sim::SimBackend, virtual time) and once by the live runtime
// (runtime::LiveBackend, wall clock). The backend owns time and the arrival stream.
//
// Contract:
//  - submit() accepts work and returns at once; exactly one Completion with the same WorkId comes
//    back later from next() (Completed, Failed, Canceled or TimedOut). Spans inside the Work are
//    valid only during submit().
//  - next() returns arrivals and completions in non-decreasing time order, and now() equals the
//    time of the last one returned. It returns nullopt when no arrival is left and no iteration,
//    transfer or role flip is outstanding: pending timers alone do not keep a run alive.
//  - A node failure is reported as kNodeDown before the kFailed completions of the work it
//    takes down with it (all at the failure's time); kNodeUp when it serves again. No work is
//    submitted to a node between the two.
//  - Placement: Work carries block tables (PrefillItem/DecodeItem::blocks, Transfer's block
//    lists) when needs_placement() says so. The simulator prices counts only and says no, which
//    spares its innermost loop a cache line per request and step; a backend that moves real KV
//    says yes (the default).
//  - Single-threaded: the controller calls it from one thread.
#pragma once

#include <optional>

#include "core/base/time.h"
#include "core/work/work.h"

namespace flowkv::core {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Time now() const = 0;
  virtual void submit(const Work& work) = 0;
  virtual std::optional<Completion> next() = 0;
  virtual bool needs_placement() const { return true; }
};

}  // namespace flowkv::core
