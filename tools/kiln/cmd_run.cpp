// kiln run MODEL|ENGINE [--input name=file.npy ...] [--output-dir DIR]
// Runs an engine (building or loading it from the cache when given a model),
// prints an output summary and timing. Without --input, inputs are random.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli_common.h"
#include "core/npy.h"
#include "kiln/compile.h"
#include "kiln/error.h"

namespace kiln::cli {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
}  // namespace

void add_run_command(CLI::App& app, Command& run) {
  auto* cmd = app.add_subcommand("run", "Run a model or engine on .npy inputs");
  struct Args {
    std::string target, output_dir;
    std::vector<std::string> inputs;
    int iterations = 10;
    uint32_t seed = 0;
    BuildOptions build;
    GraphOptions graphs;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("target", args->target, "ONNX model or kiln engine file")->required();
  cmd->add_option("-i,--input", args->inputs, "NAME=FILE.npy (repeatable); random inputs when none given");
  cmd->add_option("--output-dir", args->output_dir, "Write each output as NAME.npy here");
  cmd->add_option("-n,--iterations", args->iterations, "Timed runs after the first")->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--seed", args->seed, "Seed for random inputs")->capture_default_str();
  args->build.add_to(*cmd);
  args->graphs.add_to(*cmd);
  cmd->callback([&run, args] {
    run = [args] {
      // Checked before building: a name given twice is a mistake, not last-one-wins.
      std::map<std::string, std::string> input_files;
      for (const std::string& spec : args->inputs) {
        const auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0)
          throw Error(ErrorCode::InvalidArgument, "--input '" + spec + "': expected NAME=FILE.npy");
        const std::string name = spec.substr(0, eq);
        const auto [it, fresh] = input_files.emplace(name, spec.substr(eq + 1));
        if (!fresh)
          throw Error(ErrorCode::InvalidArgument, "--input '" + name + "' given twice (" + it->second + " and " +
                                                      spec.substr(eq + 1) + ")");
      }
      const auto t0 = Clock::now();
      Engine engine;
      if (is_engine_file(args->target)) {
        engine = Engine::load(args->target);
        std::printf("loaded engine %s in %.1f ms\n", args->target.c_str(), ms_since(t0));
      } else {
        auto caches = args->build.open_cache();
        CompileOptions options;
        options.build = args->build.config();
        options.cache = caches.get();
        const CompileResult r = compile_file(args->target, options);
        args->build.save_timing_cache();
        engine = r.engine;
        if (r.cache_hit)
          std::printf("engine loaded from cache %s (key %s) in %.1f ms\n", caches.where().c_str(),
                      r.key.substr(0, 16).c_str(), ms_since(t0));
        else
          std::printf("engine built in %.1f ms, cache %s\n", ms_since(t0), caches.where().c_str());
      }
      std::map<std::string, Tensor> inputs;
      if (args->inputs.empty()) {
        inputs = random_inputs(engine, args->seed);
        std::printf("inputs: random (seed %u)\n", args->seed);
      }
      for (const auto& [name, file] : input_files) inputs[name] = read_npy(file);
      for (const auto& [name, t] : inputs) std::printf("  %-24s %-8s %s\n", name.c_str(), std::string(dtype_name(t.dtype())).c_str(), format_shape(t.shape()).c_str());

      print_host_nodes(engine);
      SessionOptions so = args->build.session_options();
      if (is_engine_file(args->target) && args->build.device == "auto") so.device.clear();  // the engine's own device
      so.graph_cache = args->graphs.cache();
      Session session(engine, so);
      auto t1 = Clock::now();
      std::vector<NamedTensor> outputs = session.run(inputs);
      const double first_ms = ms_since(t1);
      std::vector<double> times;
      for (int i = 0; i < args->iterations; ++i) {
        t1 = Clock::now();
        outputs = session.run(inputs);
        times.push_back(ms_since(t1));
      }
      std::printf("outputs\n");
      print_summary(outputs);
      std::printf("timing (%s): first run %.2f ms", session.device().str().c_str(), first_ms);
      if (!times.empty()) {
        std::sort(times.begin(), times.end());
        double sum = 0;
        for (double t : times) sum += t;
        std::printf(", %zu more: mean %.2f ms, p50 %.2f ms, min %.2f ms", times.size(), sum / times.size(),
                    times[times.size() / 2], times.front());
      }
      std::printf("\n");
      if (so.graph_cache) {
        const GraphCacheStats g = so.graph_cache->stats();
        const auto entries = so.graph_cache->entries();
        std::printf("cuda graphs: %s, %llu captures (%.1f ms), %llu replays\n",
                    entries.empty() ? "none" : std::string(capture_mode_name(entries.back().mode)).c_str(),
                    static_cast<unsigned long long>(g.captures), g.capture_ms, static_cast<unsigned long long>(g.hits));
      }
      if (!args->output_dir.empty()) {
        std::filesystem::create_directories(args->output_dir);
        for (const auto& [name, t] : outputs) {
          std::string file = name;
          std::replace_if(file.begin(), file.end(), [](char c) { return c == '/' || c == '\\' || c == ':'; }, '_');
          write_npy((std::filesystem::path(args->output_dir) / (file + ".npy")).string(), t);
        }
        std::printf("wrote %zu outputs to %s\n", outputs.size(), args->output_dir.c_str());
      }
      return 0;
    };
  });
}

}  // namespace kiln::cli
