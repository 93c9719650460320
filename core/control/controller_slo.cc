// The planner's early stop (ControllerOptions::stop_after_slo_misses): counting, as a run goes,
// the requests certain to miss the scenario's SLO. Each test is the expression of
// core/results/metrics.h, so that "known to miss" here and "not good" there never disagree.
#include "core/base/error.h"
#include "core/control/controller.h"

namespace flowkv::core {

namespace {

bool ttft_good(const RequestRecord& rec, const SloSpec& slo) {
  return (rec.first_token.value() - rec.arrival).seconds() <= slo.ttft_s;
}

}  // namespace

void Controller::tally_first_token(const RequestRecord& rec) {
  if (ttft_good(rec, scenario_.slo)) {
    ++totals_.slo.good_ttft;
  } else {
    ++totals_.slo.missed_ttft;
  }
}

void Controller::tally_end(const RequestRecord& rec) {
  SloTally& t = totals_.slo;
  if (!rec.first_token.has_value()) {
    FLOWKV_CHECK(rec.status == RequestStatus::kFailed, "a request completed without a first token");
    ++t.failed_before_first_token;
    return;
  }
  if (!ttft_good(rec, scenario_.slo)) return;  // counted when its first token came
  if (rec.status == RequestStatus::kFailed) {
    ++t.failed_after_good_ttft;
  } else if (rec.output_tokens > 1 &&
             (rec.finish.value() - rec.first_token.value()).seconds() / (rec.output_tokens - 1) >
                 scenario_.slo.tpot_s) {
    ++t.missed_tpot;
  }
}

bool Controller::slo_out_of_reach() {
  // Requests arrive in id order, so those that arrived more than slo.ttft_s ago are a prefix.
  const size_t arrived = static_cast<size_t>(totals_.arrived);
  while (overdue_cursor_ < arrived && (now_ - records_[overdue_cursor_].arrival).seconds() > scenario_.slo.ttft_s) {
    ++overdue_cursor_;
  }
  totals_.slo.overdue = static_cast<int64_t>(overdue_cursor_);
  return totals_.slo.known_misses() > options_.stop_after_slo_misses;
}

}  // namespace flowkv::core
