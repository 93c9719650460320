// flowkv fidelity: compare a live run with the simulation of the same scenario, per request and
// in summary, and the live iterations' times with the calibrated model (docs/calibration.md).
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/base/error.h"
#include "core/results/result_files.h"
#include "tools/flowkv/command.h"
#include "tools/report/fidelity.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

const char* const kUsage = "flowkv fidelity LIVE_DIR SIM_DIR [--profile FILE] [--out DIR]";

int fidelity(const Args& args) {
  po::options_description opts("options");
  std::string live_dir, sim_dir, profile, out_dir;
  opts.add_options()
      ("live", po::value<std::string>(&live_dir)->required(), "result folder of flowkv live (positional)")
      ("sim", po::value<std::string>(&sim_dir)->required(), "result folder of flowkv simulate of the same scenario (positional)")
      ("profile", po::value<std::string>(&profile),
       "calibration profile that prices live's iterations (default: the simulation's cost_model.profile)")
      ("out", po::value<std::string>(&out_dir), "where fidelity.json and fidelity_requests.csv go (default LIVE_DIR)");
  po::positional_options_description pos;
  pos.add("live", 1).add("sim", 1);
  po::variables_map vm;
  if (!parse_args(kUsage, args, opts, pos, vm)) return 0;
  for (const std::string& d : {live_dir, sim_dir}) {
    if (!fs::is_directory(d)) core::throw_input_error("'" + d + "' is not a folder (expected a result folder; usage: " + kUsage + ")");
  }
  report::FidelityOptions o;
  o.profile = profile;
  const report::FidelityResult r = report::compare_runs(live_dir, sim_dir, o);
  const fs::path out = out_dir.empty() ? fs::path(live_dir) : fs::path(out_dir);
  core::OutputDir dir(out);
  dir.open("fidelity.json") << report::fidelity_json(r).dump(2) << "\n";
  dir.open("fidelity_requests.csv") << report::fidelity_requests_csv(r);
  dir.commit();
  std::printf("%s", report::fidelity_table(r).c_str());
  std::printf("wrote %s/{fidelity.json,fidelity_requests.csv}\n", out.string().c_str());
  return 0;
}

}  // namespace

FLOWKV_COMMAND("fidelity", "compare a live run with the simulation of the same scenario (errors of TTFT, TPOT, ITL, E2E)",
               fidelity);

}  // namespace flowkv::cli
