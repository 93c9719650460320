// flowkv report: read result folders (simulate, compare, sweep) and write one self-contained
// HTML page with plots and tables (tools/report/report.h; docs/report.md describes each figure).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "tools/flowkv/command.h"
#include "tools/report/report.h"
#include "tools/report/results.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

const char* const kUsage = "flowkv report DIR... [-o report.html] [--title T]";

int report(const Args& args) {
  po::options_description opts("options");
  std::vector<std::string> dirs;
  std::string output = "report.html";
  std::string title = "FlowKV report";
  opts.add_options()
      ("dirs", po::value<std::vector<std::string>>(&dirs), "result folders: a run (summary.json), a compare "
                                                           "(compare.json) or a sweep (sweep.json)")
      ("output,o", po::value<std::string>(&output), "the HTML file to write (default report.html)")
      ("title", po::value<std::string>(&title), "the page's title (default \"FlowKV report\")");
  po::positional_options_description positional;
  positional.add("dirs", -1);
  po::variables_map vm;
  if (!parse_args(kUsage, args, opts, positional, vm)) return 0;
  if (dirs.empty()) core::throw_input_error(std::string("no result folder given (usage: ") + kUsage + ")");
  if (output.empty()) core::throw_input_error("-o: expected a file name");

  std::vector<fs::path> paths(dirs.begin(), dirs.end());
  const report::ReportInput input = report::load_results(paths);
  report::ReportOptions options;
  options.title = title;
  options.inputs = dirs;
  const std::string html = report::build_report_html(input, options);

  const fs::path out(output);
  if (out.has_parent_path() && !fs::is_directory(out.parent_path())) {
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    if (ec) core::throw_input_error(out.parent_path().string() + ": cannot create the folder for -o: " + ec.message());
  }
  report::write_file_atomically(out, html);
  std::printf("wrote %s (%zu runs, %zu sweeps, %.0f KiB)\n", out.string().c_str(), input.runs.size(),
              input.sweeps.size(), static_cast<double>(html.size()) / 1024.0);
  for (const std::string& n : input.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  return 0;
}

}  // namespace

FLOWKV_COMMAND("report", "write an HTML report with plots from result folders (simulate, compare, sweep)", report);

}  // namespace flowkv::cli
