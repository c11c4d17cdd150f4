// kiln bench MODEL [--batch 1,8] [-n 100] [--warmup 10] [--json] [--profile]
// Latency percentiles and throughput per batch size, on random inputs. The
// batch size replaces the first dimension of every input. --profile adds where
// the time went: per op type and the slowest nodes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "runtime/weight_store.h"
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

constexpr size_t k_top_nodes = 15;

// Per (op type, kernel) totals, largest first, and every node in execution
// order; times are per run.
nlohmann::json profile_json(const std::vector<NodeProfile>& nodes) {
  std::map<std::pair<std::string, std::string>, std::pair<double, int>> by_op;
  double total = 0;
  for (const NodeProfile& n : nodes) {
    const double ms = n.runs ? n.total_ms / static_cast<double>(n.runs) : 0;
    auto& [op_ms, count] = by_op[{n.op_type, n.kernel}];
    op_ms += ms;
    ++count;
    total += ms;
  }
  std::vector<std::pair<double, nlohmann::json>> ops;
  for (const auto& [key, v] : by_op)
    ops.push_back({v.first, {{"op_type", key.first}, {"kernel", key.second}, {"nodes", v.second}, {"ms", v.first},
                             {"share", total > 0 ? v.first / total : 0}}});
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  nlohmann::json j = {{"kernels_ms", total}, {"by_op", nlohmann::json::array()}, {"nodes", nlohmann::json::array()}};
  for (auto& [ms, o] : ops) j["by_op"].push_back(o);
  for (const NodeProfile& n : nodes)
    j["nodes"].push_back({{"node", n.node}, {"op_type", n.op_type}, {"kernel", n.kernel}, {"device", n.device},
                          {"ms", n.runs ? n.total_ms / static_cast<double>(n.runs) : 0}});
  return j;
}

// Node names are paths ("/features/features.2/conv/conv.0/Conv"): their ends
// tell nodes apart.
std::string tail(const std::string& s, size_t width) {
  return s.size() <= width ? s : "..." + s.substr(s.size() - (width - 3));
}

void print_profile(const nlohmann::json& p, double p50_ms) {
  std::printf("  kernels %.3f ms per run (mean); p50 latency %.3f ms (the rest: launches, binding, copies)\n",
              p["kernels_ms"].get<double>(), p50_ms);
  std::printf("  %-28s %-16s %6s %10s %7s\n", "op type", "kernel", "nodes", "ms/run", "share");
  for (const auto& o : p["by_op"])
    std::printf("  %-28s %-16s %6d %10.3f %6.1f%%\n", o["op_type"].get<std::string>().c_str(),
                o["kernel"].get<std::string>().c_str(), o["nodes"].get<int>(), o["ms"].get<double>(),
                100 * o["share"].get<double>());
  std::vector<nlohmann::json> top(p["nodes"].begin(), p["nodes"].end());
  std::sort(top.begin(), top.end(), [](const nlohmann::json& a, const nlohmann::json& b) { return a["ms"].get<double>() > b["ms"].get<double>(); });
  if (top.size() > k_top_nodes) top.resize(k_top_nodes);
  std::printf("  slowest nodes:\n");
  for (const auto& n : top)
    std::printf("  %-44s %-24s %-16s %8.3f ms\n", tail(n["node"].get<std::string>(), 44).c_str(),
                n["op_type"].get<std::string>().c_str(), n["kernel"].get<std::string>().c_str(),
                n["ms"].get<double>());
}
}  // namespace

void add_bench_command(CLI::App& app, Command& run) {
  auto* cmd = app.add_subcommand("bench", "Measure latency percentiles and throughput");
  struct Args {
    std::string model;
    std::vector<int64_t> batches{1};
    int iterations = 100, warmup = 10;
    bool json = false;
    bool profile = false;
    bool device_io = false;
    BuildOptions build;
    GraphOptions graphs;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("-b,--batch", args->batches, "Batch sizes (comma separated)")->delimiter(',')->capture_default_str();
  cmd->add_option("-n,--iterations", args->iterations, "Timed runs per batch size")->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--warmup", args->warmup, "Untimed runs first")->capture_default_str()->check(CLI::Range(0, 100000));
  cmd->add_flag("--json", args->json, "Print results as JSON");
  cmd->add_flag("--profile", args->profile, "Also report time per op type and the slowest nodes");
  cmd->add_flag("--device-io", args->device_io,
                "Inputs uploaded once and outputs left on the GPU (as a framework holding device tensors "
                "would call it); default: host tensors in and out, copies timed");
  args->build.add_to(*cmd);
  args->graphs.add_to(*cmd);
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
        if (!args->json && batch == args->batches.front()) print_host_nodes(r.engine);
        SessionOptions so = args->build.session_options();
        so.profile = args->profile;
        so.time_runs = !args->profile;  // per-node events already time the kernels
        so.graph_cache = args->graphs.cache();
        Session session(r.engine, so);
        auto inputs = random_inputs(r.engine, 0);
        RunOptions ro;
        if (args->device_io && !session.device().is_host()) {
          backend::Backend& be = backend::backend_for(session.device());
          auto stream = be.create_stream();
          for (auto& [name, t] : inputs) t = runtime::upload(t, be, *stream);
          ro.outputs_on_device = true;
        }
        for (int i = 0; i < args->warmup; ++i) session.run(inputs, ro);
        session.reset_profile();
        // Latency: the whole call with host inputs and outputs (copies
        // included), as trtexec's, or device tensors with --device-io; enqueue: host time until every copy and
        // kernel is submitted; device: compute between the copies (events).
        std::vector<double> ms, enqueue, device;
        const auto start = Clock::now();
        for (int i = 0; i < args->iterations; ++i) {
          const auto t = Clock::now();
          session.run(inputs, ro);
          ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
          const RunTiming last = session.stats().last;
          enqueue.push_back(last.enqueue_ms);
          device.push_back(last.device_ms);
        }
        const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
        nlohmann::json row = {{"batch", batch},
                              {"iterations", args->iterations},
                              {"p50_ms", percentile(ms, 50)},
                              {"p90_ms", percentile(ms, 90)},
                              {"p99_ms", percentile(ms, 99)},
                              {"mean_ms", total_s * 1000 / args->iterations},
                              {"enqueue_p50_ms", percentile(enqueue, 50)},
                              {"throughput_per_s", static_cast<double>(batch) * args->iterations / total_s},
                              {"engine", r.cache_hit ? "cached" : "built"},
                              {"io", ro.outputs_on_device ? "device" : "host"},
                              {"device", session.device().str()}};
        if (so.time_runs) {
          row["device_p50_ms"] = percentile(device, 50);
          row["device_p99_ms"] = percentile(device, 99);
        }
        if (args->profile) row["profile"] = profile_json(session.profile());
        if (so.graph_cache) {
          const GraphCacheStats g = so.graph_cache->stats();
          const auto entries = so.graph_cache->entries();
          row["cuda_graphs"] = {{"mode", entries.empty() ? "none" : std::string(capture_mode_name(entries.back().mode))},
                                {"graphs", entries.empty() ? 0 : entries.back().graphs},
                                {"capture_ms", g.capture_ms},
                                {"hits", g.hits},
                                {"misses", g.misses},
                                {"capture_failures", g.capture_failures},
                                {"entry_bytes", entries.empty() ? size_t{0} : entries.back().device_bytes}};
        }
        if (!args->json) {
          std::printf("batch %-4lld p50 %8.3f ms  p90 %8.3f ms  p99 %8.3f ms  throughput %9.1f /s  enqueue %7.3f ms",
                      static_cast<long long>(batch), row["p50_ms"].get<double>(), row["p90_ms"].get<double>(),
                      row["p99_ms"].get<double>(), row["throughput_per_s"].get<double>(),
                      row["enqueue_p50_ms"].get<double>());
          if (so.time_runs) std::printf("  %s compute %7.3f ms", session.device().is_host() ? "cpu" : "gpu",
                                        row["device_p50_ms"].get<double>());
          std::printf("\n");
          if (row.contains("cuda_graphs")) {
            const auto& g = row["cuda_graphs"];
            std::printf("           cuda graphs: %s (%d graph%s), captured in %.1f ms, %llu replays, %llu failures\n",
                        g["mode"].get<std::string>().c_str(), g["graphs"].get<int>(), g["graphs"].get<int>() == 1 ? "" : "s",
                        g["capture_ms"].get<double>(), static_cast<unsigned long long>(g["hits"].get<uint64_t>()),
                        static_cast<unsigned long long>(g["capture_failures"].get<uint64_t>()));
          }
          if (args->profile) print_profile(row["profile"], row["p50_ms"].get<double>());
        }
        results.push_back(row);
      }
      if (args->json) std::printf("%s\n", nlohmann::json{{"model", args->model}, {"results", results}}.dump(2).c_str());
      return 0;
    };
  });
}

}  // namespace kiln::cli
