// kiln — build and run ONNX models. A thin layer over the public API; every
// failure is one line on stderr and a non-zero exit.
#include <cstdio>

#include "cli_common.h"
#include "kiln/error.h"
#include "kiln/session.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: an inference engine for ONNX models"};
  app.require_subcommand(1);
  app.fallthrough();  // options of a command are accepted after its subcommands too
  app.set_version_flag("--version", std::string("kiln ") + KILN_CLI_VERSION);
  // The CLI runs on whatever --device names, from its one thread.
  kiln::set_multi_device_safe_mode(true);
  kiln::cli::Command run;
  kiln::cli::add_info_command(app, run);
  kiln::cli::add_build_command(app, run);
  kiln::cli::add_run_command(app, run);
  kiln::cli::add_bench_command(app, run);
  kiln::cli::add_cache_command(app, run);
  kiln::cli::add_predict_command(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kiln: error: [invalid argument] %s (see kiln --help)\n", e.what());
    return 1;
  }
  try {
    return run ? run() : 0;
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: internal error: %s\n", e.what());
    return 2;
  }
}
