// Synthetic calibration profiles with known costs, for the calibrated model's tests (tests/sim)
// and the calibrate / fidelity command tests (tests/cli). The times are computed here from the
// documented features (docs/calibration.md), independently of sim/calibrated_model.cc, so a fit
// that recovers these coefficients recovers what the documentation says it models.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/spec/calibration_profile.h"
#include "core/spec/model_spec.h"

namespace flowkv::testing {

struct KnownCosts {
  // prefill: constant, per token, per token over the knee, per attention pair, per item, per
  // context token, per context token over the knee
  double p[7] = {2e-3, 4e-6, 0, 3e-10, 1e-4, 1e-7, 0};
  int64_t p_knee = 0, p_context_knee = 0;
  // decode: constant, per step, per step over the knee, per context token, per context token over the knee
  double d[5] = {1e-3, 5e-5, 0, 2e-8, 0};
  int64_t d_knee = 0, d_context_knee = 0;
  // mixed: as prefill, decode steps counting as tokens and their context as context
  double m[7] = {2.5e-3, 4.5e-6, 0, 3e-10, 1e-4, 3e-8, 0};
  int64_t m_knee = 0, m_context_knee = 0;
  // transfers: constant, per call, per byte
  double t[3] = {2e-5, 3e-6, 1e-10};
  double iteration_gap_s = 150e-6;  // every gap of the overhead probe
  double transfer_excess_s = 80e-6; // live transfers take this much more than the fit
};

inline double relu_(double v) { return v > 0 ? v : 0; }

inline double known_time(const KnownCosts& k, const core::IterationShape& s) {
  const double pairs = static_cast<double>(s.attention_pairs);
  const double ctx = static_cast<double>(s.prefill_context + s.decode_context);
  if (s.prefill_items == 0) {
    const double b = static_cast<double>(s.decode_items);
    return k.d[0] + k.d[1] * b + k.d[2] * relu_(b - static_cast<double>(k.d_knee)) + k.d[3] * ctx +
           k.d[4] * relu_(ctx - static_cast<double>(k.d_context_knee));
  }
  const double* c = s.decode_items == 0 ? k.p : k.m;
  const int64_t knee = s.decode_items == 0 ? k.p_knee : k.m_knee;
  const int64_t cknee = s.decode_items == 0 ? k.p_context_knee : k.m_context_knee;
  const double t = static_cast<double>(s.prefill_tokens + s.decode_items);
  return c[0] + c[1] * t + c[2] * relu_(t - static_cast<double>(knee)) + c[3] * pairs +
         c[4] * static_cast<double>(s.prefill_items) + c[5] * ctx + c[6] * relu_(ctx - static_cast<double>(cknee));
}

inline core::IterationShape shape(std::vector<std::pair<int64_t, int64_t>> prefill, int64_t decodes, int64_t ctx) {
  core::IterationShape s;
  for (const auto& [c, p] : prefill) {
    ++s.prefill_items;
    s.prefill_tokens += c;
    s.prefill_context += p;
    s.attention_pairs += c * p + c * (c + 1) / 2;
  }
  s.decode_items = decodes;
  s.decode_context = decodes * ctx;
  return s;
}

// Every shape of the synthetic grid, in grid order (prefill, decode, mixed).
inline std::vector<core::IterationShape> synthetic_shapes() {
  std::vector<core::IterationShape> out;
  for (const int64_t c : {16, 32, 64, 128, 256, 512, 1024, 2048}) {
    out.push_back(shape({{c, 0}}, 0, 0));
    out.push_back(shape({{c, 300}}, 0, 0));
  }
  out.push_back(shape({{100, 0}, {200, 0}, {300, 0}}, 0, 0));
  out.push_back(shape({{50, 0}, {50, 0}, {50, 0}, {50, 0}}, 0, 0));
  for (const int64_t b : {1, 2, 4, 8, 16, 32, 64, 128, 256}) {
    for (const int64_t ctx : {64, 700}) out.push_back(shape({}, b, ctx));
  }
  for (const int64_t c : {32, 128, 512, 1500}) {
    for (const int64_t b : {1, 8, 32}) {
      if (b == 8) {
        out.push_back(shape({{c / 2, 100}, {c - c / 2, 0}}, b, 300 + c));  // two chunks
      } else {
        out.push_back(shape({{c, 200 + 7 * b}}, b, 300 + c));
      }
    }
  }
  return out;
}

inline core::CalibrationProfile synthetic_profile(const KnownCosts& k, const std::string& model = "tiny-llama",
                                                  core::LayoutKind layout = core::LayoutKind::kBlockContiguous) {
  core::CalibrationProfile p;
  p.command = "synthetic (tests/calibration_fixtures.h)";
  p.device = "synthetic";
  p.model = core::profile_model_of(core::find_model(model));
  p.block_size = 16;
  for (const core::IterationShape& s : synthetic_shapes()) {
    core::ProfileIteration it;
    it.layout = layout;
    it.shape = s;
    it.median_s = known_time(k, s);
    it.times_s = {it.median_s};
    p.iterations.push_back(it);
  }
  for (const int64_t calls : {1, 2, 8, 32, 128, 512}) {
    for (const int64_t bytes_per_call : {4096, 65536}) {
      core::ProfileTransfer t;
      t.calls = calls;
      t.bytes = calls * bytes_per_call;
      t.median_s = k.t[0] + k.t[1] * static_cast<double>(calls) + k.t[2] * static_cast<double>(t.bytes);
      t.times_s = {t.median_s};
      p.transfers.push_back(t);
    }
  }
  p.overhead_gaps_s = {k.iteration_gap_s, k.iteration_gap_s, 10 * k.iteration_gap_s};  // median: the gap
  for (const int64_t calls : {1, 3, 5}) {
    const int64_t bytes = 100000;
    p.overhead_transfers.push_back(
        {calls, bytes, k.t[0] + k.t[1] * static_cast<double>(calls) + k.t[2] * static_cast<double>(bytes) + k.transfer_excess_s});
  }
  p.overhead_detail = {{"method", "synthetic"}};
  p.settings = {{"block_size", 16}};
  return p;
}

inline void write_profile(const core::CalibrationProfile& p, const std::filesystem::path& file) {
  std::ofstream(file, std::ios::binary) << core::profile_to_json(p).dump(1) << "\n";
}

}  // namespace flowkv::testing
