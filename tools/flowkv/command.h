// Subcommands of the flowkv command line.
//
// Each subcommand lives in its own cmd_*.cc file and registers itself with FLOWKV_COMMAND, so
// adding one touches no shared file. A command receives its own arguments (argv after the
// subcommand name), returns the process exit code, and reports bad input by throwing
// core::Error (main prints it and exits 2). Commands print results on stdout and progress or
// diagnostics on stderr.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace flowkv::cli {

using Args = std::vector<std::string>;
using CommandFn = std::function<int(const Args&)>;

struct Command {
  std::string summary;  // one line for `flowkv --help`
  CommandFn run;
};

std::map<std::string, Command>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(const std::string& name, const std::string& summary, CommandFn run) {
    command_registry()[name] = Command{summary, std::move(run)};
  }
};

#define FLOWKV_CONCAT_INNER(a, b) a##b
#define FLOWKV_CONCAT(a, b) FLOWKV_CONCAT_INNER(a, b)
#define FLOWKV_COMMAND(name, summary, fn) \
  static ::flowkv::cli::CommandRegistrar FLOWKV_CONCAT(flowkv_command_, __LINE__)(name, summary, fn)

namespace po = boost::program_options;

// Parses `args` against `options` (plus positional ones). Prints usage and returns false when
// --help was given; throws core::Error (exit 2) on an unknown or malformed flag, naming it.
bool parse_args(const std::string& usage, const Args& args, const po::options_description& options,
                const po::positional_options_description& positional, po::variables_map& vm);

}  // namespace flowkv::cli
