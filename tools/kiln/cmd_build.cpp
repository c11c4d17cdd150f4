// kiln build MODEL -o FILE: build an engine and write it to a file (and the cache).
#include <cstdio>

#include "cli_common.h"
#include "kiln/compile.h"

namespace kiln::cli {

void add_build_command(CLI::App& app, Command& run) {
  auto* cmd = app.add_subcommand("build", "Build an engine from an ONNX model");
  struct Args {
    std::string model, output;
    BuildOptions build;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("-o,--output", args->output, "Engine file to write")->required();
  args->build.add_to(*cmd);
  cmd->callback([&run, args] {
    run = [args] {
      auto caches = args->build.open_cache();
      CompileOptions options;
      options.build = args->build.config();
      options.cache = caches.get();
      const CompileResult r = compile_file(args->model, options);
      args->build.save_timing_cache();
      r.engine.save(args->output);
      std::printf("%s engine in %.3f s (key %s)\n", r.cache_hit ? "loaded cached" : "built", r.seconds,
                  r.key.substr(0, 16).c_str());
      std::printf("wrote %s: %zu nodes, %s weights, %s arena\n", args->output.c_str(), r.engine.num_nodes(),
                  format_bytes(r.engine.weights_bytes()).c_str(), format_bytes(r.engine.arena_bytes()).c_str());
      print_host_nodes(r.engine);
      return 0;
    };
  });
}

}  // namespace kiln::cli
