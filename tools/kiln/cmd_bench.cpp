// kiln bench MODEL [--batch 1,8] [-n 100] [--warmup 10] [--json]
// Latency percentiles and throughput per batch size, on random inputs. The
// batch size replaces the first dimension of every input.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "kiln/compile.h"
#include "kiln/error.h"

namespace kiln::cli {

namespace {
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double idx = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(idx);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}
}  // namespace

void add_bench_command(CLI::App& app, Command& run) {
  auto* cmd = app.add_subcommand("bench", "Measure latency percentiles and throughput");
  struct Args {
    std::string model;
    std::vector<int64_t> batches{1};
    int iterations = 100, warmup = 10;
    bool json = false;
    int threads = 0;
    BuildOptions build;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("-b,--batch", args->batches, "Batch sizes (comma separated)")->delimiter(',')->capture_default_str();
  cmd->add_option("-n,--iterations", args->iterations, "Timed runs per batch size")->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--warmup", args->warmup, "Untimed runs first")->capture_default_str()->check(CLI::Range(0, 100000));
  cmd->add_flag("--json", args->json, "Print results as JSON");
  cmd->add_option("--threads", args->threads, "CPU threads for kernels (0: all cores)")->capture_default_str()
      ->check(CLI::Range(0, 4096));
  args->build.add_to(*cmd);
  cmd->callback([&run, args] {
    run = [args] {
      const Model model = Model::load(args->model);
      auto caches = args->build.open_cache();
      nlohmann::json results = nlohmann::json::array();
      for (int64_t batch : args->batches) {
        if (batch < 1) throw Error(ErrorCode::InvalidArgument, "--batch sizes must be >= 1");
        CompileOptions options;
        options.build = args->build.config();
        if (args->json) options.build.on_progress = nullptr;
        for (const TensorInfo& in : model.inputs()) {
          if (options.build.profiles.count(in.name) || in.shape.empty()) continue;
          Shape s;
          for (size_t d = 0; d < in.shape.size(); ++d) {
            if (d == 0) s.push_back(batch);
            else if (in.shape[d] >= 0) s.push_back(in.shape[d]);
            else throw Error(ErrorCode::InvalidArgument, "input '" + in.name + "' has a dynamic dim " +
                                                             std::to_string(d) + "; give --shape");
          }
          if (in.shape[0] >= 0 && in.shape[0] != batch)
            throw Error(ErrorCode::InvalidArgument, "input '" + in.name + "' has a fixed batch of " +
                                                        std::to_string(in.shape[0]) + "; export with a dynamic batch");
          options.build.profiles[in.name] = ShapeRange{s, s, s};
        }
        options.cache = caches.get();
        const CompileResult r = compile(model, options);
        args->build.save_timing_cache();
        SessionOptions so;
        so.threads = args->threads;
        Session session(r.engine, so);
        const auto inputs = random_inputs(r.engine, 0);
        for (int i = 0; i < args->warmup; ++i) session.run(inputs);
        std::vector<double> ms;
        const auto start = Clock::now();
        for (int i = 0; i < args->iterations; ++i) {
          const auto t = Clock::now();
          session.run(inputs);
          ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
        }
        const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
        nlohmann::json row = {{"batch", batch},
                              {"iterations", args->iterations},
                              {"p50_ms", percentile(ms, 50)},
                              {"p90_ms", percentile(ms, 90)},
                              {"p99_ms", percentile(ms, 99)},
                              {"mean_ms", total_s * 1000 / args->iterations},
                              {"throughput_per_s", static_cast<double>(batch) * args->iterations / total_s},
                              {"engine", r.cache_hit ? "cached" : "built"},
                              {"device", r.engine.backend()}};
        results.push_back(row);
        if (!args->json)
          std::printf("batch %-4lld p50 %8.2f ms  p90 %8.2f ms  p99 %8.2f ms  throughput %9.1f /s\n",
                      static_cast<long long>(batch), row["p50_ms"].get<double>(), row["p90_ms"].get<double>(),
                      row["p99_ms"].get<double>(), row["throughput_per_s"].get<double>());
      }
      if (args->json) std::printf("%s\n", nlohmann::json{{"model", args->model}, {"results", results}}.dump(2).c_str());
      return 0;
    };
  });
}

}  // namespace kiln::cli
