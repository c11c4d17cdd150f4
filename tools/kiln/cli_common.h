// Shared pieces of the kiln CLI: option parsing helpers and output formatting.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/builder.h"
#include "kiln/engine_cache.h"
#include "kiln/session.h"
#include "kiln/timing_cache.h"

namespace kiln::cli {

// The timing cache's file name inside the cache directory.
inline constexpr const char* k_timing_cache_file = "timing_cache.json";

// Options every command that builds shares: shapes, cache, device.
struct BuildOptions {
  std::vector<std::string> shapes;  // name=1x3x224x224
  std::string device = "auto";     // "auto": kiln::default_device() (the GPU when there is one)
  std::string cache_dir;            // empty: default location
  bool no_cache = false;
  int optimization_level = 3;
  std::string precision = "fp32";
  std::string timing_cache_path;    // empty: timing_cache.json in the cache directory
  int threads = 0;                  // CPU kernel threads, timed and run with (0: all cores)
  std::string redis;                // HOST:PORT of a shared Redis tier (or $KILN_REDIS)

  void add_to(CLI::App& app);
  // Loads the timing cache on first use; the returned config points into it.
  BuildConfig config() const;
  // Writes the timing cache back when a build added timings.
  void save_timing_cache() const;
  // A Session on the device built for, at the built thread count.
  SessionOptions session_options() const;
  // `device` with "auto" resolved.
  std::string resolved_device() const;

  // The disk cache, with a Redis tier behind it when asked for.
  struct Caches {
    std::unique_ptr<DiskEngineCache> disk;
    std::unique_ptr<RedisEngineCache> redis;
    std::unique_ptr<TieredEngineCache> tiered;
    EngineCache* get() const { return tiered ? static_cast<EngineCache*>(tiered.get()) : disk.get(); }
    std::string where() const;
  };
  // Empty when --no-cache.
  Caches open_cache() const;

 private:
  std::filesystem::path timing_path() const;
  mutable std::shared_ptr<TimingCache> m_timing;
  mutable size_t m_timing_loaded_size = 0;
};

// --cuda-graphs[=CAPACITY] of `run` and `bench`: a graph cache for the
// session; without the option, KILN_AUTO_CUDA_GRAPHS decides (as the seeds).
struct GraphOptions {
  std::string capacity;  // "" when given without a value
  CLI::Option* option = nullptr;
  void add_to(CLI::App& app);
  std::shared_ptr<GraphCache> cache() const;
};

bool is_engine_file(const std::string& path);
std::string format_shape(const std::vector<int64_t>& shape);
std::string format_bytes(uint64_t bytes);
// The nodes of a device engine that run on the CPU, one line each (none: nothing).
void print_host_nodes(const Engine& engine);
// One line per output: name, dtype, shape and min/max/mean for float outputs.
void print_summary(const std::vector<NamedTensor>& outputs);

// Random but reproducible inputs for the engine's input specs (dynamic dims → opt or 1).
std::map<std::string, Tensor> random_inputs(const Engine& engine, uint32_t seed);

using Command = std::function<int()>;
void add_info_command(CLI::App& app, Command& run);
void add_build_command(CLI::App& app, Command& run);
void add_run_command(CLI::App& app, Command& run);
void add_bench_command(CLI::App& app, Command& run);
void add_cache_command(CLI::App& app, Command& run);
#ifdef KILN_WITH_MODELS
void add_predict_command(CLI::App& app, Command& run);  // model packages (src/models/, on OpenCV)
#else
inline void add_predict_command(CLI::App&, Command&) {}  // built without OpenCV: no `predict`
#endif

}  // namespace kiln::cli
