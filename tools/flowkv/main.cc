// flowkv: the command line. Dispatches to the registered subcommands (see command.h).
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

#include "core/base/error.h"
#include "tools/flowkv/command.h"

namespace flowkv::cli {

std::map<std::string, Command>& command_registry() {
  static std::map<std::string, Command> registry;
  return registry;
}

bool parse_args(const std::string& usage, const Args& args, const po::options_description& options,
                const po::positional_options_description& positional, po::variables_map& vm) {
  po::options_description all(options);
  all.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << all << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    core::throw_input_error(std::string(e.what()) + " (usage: " + usage + "; see --help)");
  }
  return true;
}

namespace {

void print_usage() {
  std::cout << "flowkv: disaggregated LLM serving with a built-in discrete-event simulator\n\n"
               "usage: flowkv <command> [options]   (flowkv <command> --help for its options)\n\n"
               "commands:\n";
  for (const auto& [name, command] : command_registry()) {
    std::printf("  %-16s %s\n", name.c_str(), command.summary.c_str());
  }
}

}  // namespace
}  // namespace flowkv::cli

int main(int argc, char** argv) {
  using namespace flowkv;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    cli::print_usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  auto& registry = cli::command_registry();
  auto it = registry.find(name);
  if (it == registry.end()) {
    std::cerr << "flowkv: unknown command '" << name << "' (see flowkv --help)\n";
    return 2;
  }
  try {
    return it->second.run(cli::Args(argv + 2, argv + argc));
  } catch (const core::Error& e) {
    std::cerr << "flowkv " << name << ": error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "flowkv " << name << ": internal error: " << e.what() << "\n";
    return 1;
  }
}
