#include "sim/calibrated_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <Eigen/Dense>

#include "core/base/error.h"
#include "core/results/result_files.h"

namespace flowkv::sim {

using core::IterationPhase;
using core::IterationShape;
using core::LayoutKind;

// ---- NNLS ----

std::vector<double> nnls(const std::vector<std::vector<double>>& rows, const std::vector<double>& b) {
  const Eigen::Index m = static_cast<Eigen::Index>(rows.size());
  const Eigen::Index n = m > 0 ? static_cast<Eigen::Index>(rows[0].size()) : 0;
  FLOWKV_CHECK(static_cast<Eigen::Index>(b.size()) == m, "nnls: one target per row");
  Eigen::MatrixXd a(m, n);
  Eigen::VectorXd y(m);
  for (Eigen::Index i = 0; i < m; ++i) {
    FLOWKV_CHECK(static_cast<Eigen::Index>(rows[static_cast<size_t>(i)].size()) == n, "nnls: ragged rows");
    for (Eigen::Index j = 0; j < n; ++j) a(i, j) = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
    y(i) = b[static_cast<size_t>(i)];
  }
  // Unit-norm columns: features differ by many orders of magnitude (a constant, token counts,
  // attention pairs in the millions).
  Eigen::VectorXd scale = Eigen::VectorXd::Zero(n);
  for (Eigen::Index j = 0; j < n; ++j) {
    const double norm = a.col(j).norm();
    if (norm > 0 && std::isfinite(norm)) {
      scale(j) = 1.0 / norm;
      a.col(j) *= scale(j);
    } else {
      a.col(j).setZero();
    }
  }
  Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
  std::vector<uint8_t> passive(static_cast<size_t>(n), 0), tried(static_cast<size_t>(n), 0);
  const double tol = 1e-12 * std::max(1.0, (a.transpose() * y).cwiseAbs().maxCoeff());
  const int limit = static_cast<int>(3 * n + 10);
  for (int outer = 0; outer < limit; ++outer) {
    const Eigen::VectorXd w = a.transpose() * (y - a * x);
    Eigen::Index best = -1;
    double best_w = tol;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (!passive[static_cast<size_t>(j)] && !tried[static_cast<size_t>(j)] && scale(j) > 0 && w(j) > best_w) {
        best_w = w(j);
        best = j;
      }
    }
    if (best < 0) break;
    passive[static_cast<size_t>(best)] = 1;
    for (int inner = 0; inner < limit; ++inner) {
      std::vector<Eigen::Index> idx;
      for (Eigen::Index j = 0; j < n; ++j) {
        if (passive[static_cast<size_t>(j)]) idx.push_back(j);
      }
      Eigen::MatrixXd ap(m, static_cast<Eigen::Index>(idx.size()));
      for (size_t k = 0; k < idx.size(); ++k) ap.col(static_cast<Eigen::Index>(k)) = a.col(idx[k]);
      const Eigen::VectorXd zp = ap.colPivHouseholderQr().solve(y);
      Eigen::VectorXd z = Eigen::VectorXd::Zero(n);
      bool positive = true;
      for (size_t k = 0; k < idx.size(); ++k) {
        z(idx[k]) = zp(static_cast<Eigen::Index>(k));
        if (!(z(idx[k]) > 0)) positive = false;
      }
      if (positive) {
        x = z;
        break;
      }
      double alpha = 1.0;
      for (const Eigen::Index j : idx) {
        if (!(z(j) > 0)) {
          const double d = x(j) - z(j);
          alpha = std::min(alpha, d > 0 ? x(j) / d : 0.0);
        }
      }
      x += alpha * (z - x);
      for (const Eigen::Index j : idx) {
        if (!(x(j) > 1e-15)) {
          x(j) = 0;
          passive[static_cast<size_t>(j)] = 0;
        }
      }
      // A column that cannot enter with a positive weight is not offered again (no cycling).
      if (!passive[static_cast<size_t>(best)]) tried[static_cast<size_t>(best)] = 1;
    }
  }
  std::vector<double> out(static_cast<size_t>(n));
  for (Eigen::Index j = 0; j < n; ++j) out[static_cast<size_t>(j)] = x(j) * scale(j);
  return out;
}

ErrorStats relative_errors(const std::vector<double>& predicted, const std::vector<double>& measured) {
  ErrorStats e;
  for (size_t i = 0; i < predicted.size() && i < measured.size(); ++i) {
    if (!(measured[i] > 0)) continue;
    const double r = (predicted[i] - measured[i]) / measured[i];
    ++e.count;
    e.mean_abs += std::abs(r);
    e.mean_signed += r;
    e.max_abs = std::max(e.max_abs, std::abs(r));
  }
  if (e.count > 0) {
    e.mean_abs /= static_cast<double>(e.count);
    e.mean_signed /= static_cast<double>(e.count);
  }
  return e;
}

// ---- features ----

namespace {

constexpr int64_t kTokenKnees[] = {0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
constexpr int64_t kContextKnees[] = {0, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576};

double relu(double v) { return v > 0 ? v : 0; }

bool held_back(size_t index_in_group) { return index_in_group % 5 == 2; }

struct Group {
  std::vector<const IterationShape*> shapes;
  std::vector<double> times;
};

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += a[i] * b[i];
  return s;
}

// Weighted (relative-error) NNLS of `times` on the phase's features at the knees.
std::vector<double> fit_at(IterationPhase phase, const std::vector<const IterationShape*>& shapes,
                           const std::vector<double>& times, Knees knee) {
  std::vector<std::vector<double>> rows;
  std::vector<double> ones(shapes.size(), 1.0);
  for (size_t i = 0; i < shapes.size(); ++i) {
    std::vector<double> f = CalibratedModel::features(phase, *shapes[i], knee);
    for (double& v : f) v /= times[i];
    rows.push_back(std::move(f));
  }
  return nnls(rows, ones);
}

std::vector<double> predict_all(IterationPhase phase, const std::vector<const IterationShape*>& shapes,
                                const std::vector<double>& coef, Knees knee) {
  std::vector<double> out;
  for (const IterationShape* s : shapes) out.push_back(dot(CalibratedModel::features(phase, *s, knee), coef));
  return out;
}

double squared_relative(const std::vector<double>& predicted, const std::vector<double>& measured) {
  double s = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    const double r = (predicted[i] - measured[i]) / measured[i];
    s += r * r;
  }
  return s;
}

nlohmann::ordered_json errors_json(const ErrorStats& e) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["points"] = e.count;
  j["mean_abs"] = core::round9(e.mean_abs);
  j["max_abs"] = core::round9(e.max_abs);
  j["mean_signed"] = core::round9(e.mean_signed);
  return j;
}

}  // namespace

const char* CalibratedModel::feature_name(IterationPhase phase, size_t i) {
  static const char* const kPrefill[] = {"constant",      "tokens",  "tokens_over_knee",    "attention_pairs",
                                         "prefill_items", "context", "context_over_knee"};
  static const char* const kDecode[] = {"constant", "decode_items", "decode_items_over_knee", "context",
                                        "context_over_knee"};
  switch (phase) {
    case IterationPhase::kPrefill:
    case IterationPhase::kMixed:
      return i < 7 ? kPrefill[i] : "?";
    case IterationPhase::kDecode:
      return i < 5 ? kDecode[i] : "?";
  }
  return "?";
}

std::vector<double> CalibratedModel::features(IterationPhase phase, const IterationShape& s, Knees knee) {
  const double k = static_cast<double>(knee.tokens);
  const double ctx = static_cast<double>(s.prefill_context + s.decode_context);
  const double ctx_over = relu(ctx - static_cast<double>(knee.context));
  if (phase == IterationPhase::kDecode) {
    const double b = static_cast<double>(s.decode_items);
    return {1.0, b, relu(b - k), ctx, ctx_over};
  }
  // Prefill and mixed: a decode step is one more new token.
  const double t = static_cast<double>(s.prefill_tokens + s.decode_items);
  return {1.0, t, relu(t - k), static_cast<double>(s.attention_pairs), static_cast<double>(s.prefill_items), ctx, ctx_over};
}

// ---- the model ----

CalibratedModel::CalibratedModel(const core::CalibrationProfile& profile) : profile_(profile) {
  std::vector<double> held_pred, held_meas;
  for (const LayoutKind layout : {LayoutKind::kPagedPerLayer, LayoutKind::kBlockContiguous}) {
    for (int ph = 0; ph < core::kNumPhases; ++ph) {
      const auto phase = static_cast<IterationPhase>(ph);
      Group train, held;
      size_t index = 0;
      for (const core::ProfileIteration& it : profile.iterations) {
        if (it.layout != layout || core::phase_of(it.shape) != phase) continue;
        Group& g = held_back(index++) ? held : train;
        g.shapes.push_back(&it.shape);
        g.times.push_back(it.median_s);
      }
      if (index == 0) continue;
      PhaseFit fit;
      fit.layout = layout;
      fit.phase = phase;
      fit.points = static_cast<int64_t>(train.shapes.size());
      fit.held_back = static_cast<int64_t>(held.shapes.size());
      // The knees with the smallest training error; the smaller knees on a tie (or near-tie).
      double best = INFINITY;
      int64_t max_units = 0, max_context = 0;
      for (const IterationShape* s : train.shapes) {
        max_units = std::max(max_units, phase == IterationPhase::kDecode ? s->decode_items : s->prefill_tokens + s->decode_items);
        max_context = std::max(max_context, s->prefill_context + s->decode_context);
      }
      for (const int64_t kt : kTokenKnees) {
        if (kt > 0 && kt >= max_units) break;
        for (const int64_t kc : kContextKnees) {
          if (kc > 0 && kc >= max_context) break;
          const Knees knee{kt, kc};
          const std::vector<double> coef = fit_at(phase, train.shapes, train.times, knee);
          const double err = squared_relative(predict_all(phase, train.shapes, coef, knee), train.times);
          // A knee must buy a real improvement: on exact (synthetic) data every knee fits to
          // rounding error, and the plain model (knee 0) should win those ties.
          if (err < best * (1 - 1e-6) - 1e-18) {
            best = err;
            fit.knee = knee;
            fit.coefficients = coef;
          }
        }
      }
      fit.train = relative_errors(predict_all(phase, train.shapes, fit.coefficients, fit.knee), train.times);
      const std::vector<double> hp = predict_all(phase, held.shapes, fit.coefficients, fit.knee);
      fit.held = relative_errors(hp, held.times);
      held_pred.insert(held_pred.end(), hp.begin(), hp.end());
      held_meas.insert(held_meas.end(), held.times.begin(), held.times.end());
      fits_.push_back(std::move(fit));
    }
  }
  held_all_ = relative_errors(held_pred, held_meas);

  std::vector<std::vector<double>> rows;
  std::vector<double> times_train, ones;
  std::vector<std::array<double, 3>> held_f;
  std::vector<double> held_t;
  for (size_t i = 0; i < profile.transfers.size(); ++i) {
    const core::ProfileTransfer& t = profile.transfers[i];
    const std::array<double, 3> f = {1.0, static_cast<double>(t.calls), static_cast<double>(t.bytes)};
    if (held_back(i)) {
      held_f.push_back(f);
      held_t.push_back(t.median_s);
      continue;
    }
    rows.push_back({f[0] / t.median_s, f[1] / t.median_s, f[2] / t.median_s});
    times_train.push_back(t.median_s);
    ones.push_back(1.0);
  }
  transfer_.points = static_cast<int64_t>(rows.size());
  transfer_.held_back = static_cast<int64_t>(held_f.size());
  if (!rows.empty()) {
    const std::vector<double> c = nnls(rows, ones);
    transfer_.coefficients = {c[0], c[1], c[2]};
    std::vector<double> tp, hp;
    for (const auto& r : rows) tp.push_back((r[0] * c[0] + r[1] * c[1] + r[2] * c[2]));  // already relative
    std::vector<double> tpa(tp.size(), 0.0);
    for (size_t i = 0; i < tp.size(); ++i) tpa[i] = tp[i] * times_train[i];
    transfer_.train = relative_errors(tpa, times_train);
    for (const auto& f : held_f) hp.push_back(f[0] * c[0] + f[1] * c[1] + f[2] * c[2]);
    transfer_.held = relative_errors(hp, held_t);
  }
  iteration_overhead_s_ = core::median_of(profile.overhead_gaps_s);
  std::vector<double> excess;
  for (const core::ProfileLiveTransfer& t : profile.overhead_transfers) {
    excess.push_back(t.seconds - transfer_.coefficients[0] - transfer_.coefficients[1] * static_cast<double>(t.calls) -
                     transfer_.coefficients[2] * static_cast<double>(t.bytes));
  }
  transfer_overhead_s_ = std::max(0.0, core::median_of(excess));
}

bool CalibratedModel::has_layout(LayoutKind layout) const {
  return std::any_of(fits_.begin(), fits_.end(), [&](const PhaseFit& f) { return f.layout == layout; });
}

const PhaseFit& CalibratedModel::fit_for(LayoutKind layout, IterationPhase phase) const {
  for (const PhaseFit& f : fits_) {
    if (f.layout == layout && f.phase == phase) return f;
  }
  FLOWKV_CHECK(false, std::string("no calibrated fit for the ") + core::to_string(layout) + " layout's " +
                          core::to_string(phase) + " iterations (check_profile_fits lets no such profile through)");
  return fits_.front();
}

double CalibratedModel::run_seconds(LayoutKind layout, const IterationShape& shape) const {
  const IterationPhase phase = core::phase_of(shape);
  const PhaseFit& f = fit_for(layout, phase);
  return dot(features(phase, shape, f.knee), f.coefficients);
}

core::Duration CalibratedModel::iteration_time(LayoutKind layout, const IterationShape& shape) const {
  return core::Duration::from_seconds(iteration_overhead_s_ + run_seconds(layout, shape));
}

core::Duration CalibratedModel::transfer_latency(int64_t calls) const {
  return core::Duration::from_seconds(transfer_overhead_s_ + transfer_.coefficients[0] +
                                      transfer_.coefficients[1] * static_cast<double>(calls));
}

double CalibratedModel::transfer_bytes_per_s() const {
  const double c = transfer_.coefficients[2];
  return c > 1e-18 ? 1.0 / c : 1e18;
}

double CalibratedModel::transfer_seconds(int64_t calls, int64_t bytes) const {
  return transfer_latency(calls).seconds() + static_cast<double>(bytes) / transfer_bytes_per_s();
}

nlohmann::ordered_json CalibratedModel::fit_json() const {
  using nlohmann::ordered_json;
  ordered_json j = ordered_json::object();
  j["device"] = profile_.device;
  j["iteration_overhead_s"] = core::round9(iteration_overhead_s_);
  j["transfer_overhead_s"] = core::round9(transfer_overhead_s_);
  j["held_back"] = errors_json(held_all_);
  ordered_json fits = ordered_json::array();
  for (const PhaseFit& f : fits_) {
    ordered_json e = ordered_json::object();
    e["layout"] = core::to_string(f.layout);
    e["phase"] = core::to_string(f.phase);
    e["knee"] = {{"tokens", f.knee.tokens}, {"context", f.knee.context}};
    ordered_json coef = ordered_json::object();
    for (size_t i = 0; i < f.coefficients.size(); ++i) coef[feature_name(f.phase, i)] = core::round9(f.coefficients[i]);
    e["coefficients_s"] = std::move(coef);
    e["fitted"] = errors_json(f.train);
    e["held_back"] = errors_json(f.held);
    fits.push_back(std::move(e));
  }
  j["iterations"] = std::move(fits);
  ordered_json t = ordered_json::object();
  t["coefficients_s"] = {{"constant", core::round9(transfer_.coefficients[0])},
                         {"calls", core::round9(transfer_.coefficients[1])},
                         {"bytes", core::round9(transfer_.coefficients[2])}};
  t["fitted"] = errors_json(transfer_.train);
  t["held_back"] = errors_json(transfer_.held);
  j["transfers"] = std::move(t);
  return j;
}

std::string CalibratedModel::fit_table() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "  %-10s %-8s %6s %6s %13s %10s %10s %10s\n", "layout", "phase", "fitted", "held", "knees",
                "fit err", "held err", "held max");
  out += line;
  for (const PhaseFit& f : fits_) {
    char knees[32];
    std::snprintf(knees, sizeof knees, "%lld/%lld", static_cast<long long>(f.knee.tokens), static_cast<long long>(f.knee.context));
    std::snprintf(line, sizeof line, "  %-10s %-8s %6lld %6lld %13s %9.2f%% %9.2f%% %9.2f%%\n", core::to_string(f.layout),
                  core::to_string(f.phase), static_cast<long long>(f.points), static_cast<long long>(f.held_back), knees,
                  100 * f.train.mean_abs, 100 * f.held.mean_abs, 100 * f.held.max_abs);
    out += line;
  }
  std::snprintf(line, sizeof line, "  %-10s %-8s %6lld %6lld %13s %9.2f%% %9.2f%% %9.2f%%\n", "transfers", "",
                static_cast<long long>(transfer_.points), static_cast<long long>(transfer_.held_back), "-",
                100 * transfer_.train.mean_abs, 100 * transfer_.held.mean_abs, 100 * transfer_.held.max_abs);
  out += line;
  std::snprintf(line, sizeof line, "  held-back iterations: mean |error| %.2f%%, max %.2f%% over %lld points; overhead %.1f us per iteration, %.1f us per transfer\n",
                100 * held_all_.mean_abs, 100 * held_all_.max_abs, static_cast<long long>(held_all_.count),
                1e6 * iteration_overhead_s_, 1e6 * transfer_overhead_s_);
  out += line;
  return out;
}

core::IterationShape shape_of(const core::Iteration& it) {
  IterationShape s;
  for (const core::PrefillItem& p : it.prefill) {
    s.prefill_tokens += p.num_tokens;
    s.prefill_context += p.context_tokens;
    s.attention_pairs += p.num_tokens * p.context_tokens + p.num_tokens * (p.num_tokens + 1) / 2;
  }
  s.prefill_items = static_cast<int64_t>(it.prefill.size());
  s.decode_items = static_cast<int64_t>(it.decode.size());
  s.decode_context = it.decode_context_tokens;
  return s;
}

std::shared_ptr<const CalibratedModel> calibrated_model_for(const core::Scenario& scenario) {
  if (scenario.cost.kind != core::CostModelKind::kCalibrated) return nullptr;
  FLOWKV_CHECK(scenario.cost.profile != nullptr, "a calibrated scenario without its profile");
  return std::make_shared<const CalibratedModel>(*scenario.cost.profile);
}

}  // namespace flowkv::sim
