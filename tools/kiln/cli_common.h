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

namespace kiln::cli {

// Options every command that builds shares: shapes, cache, device.
struct BuildOptions {
  std::vector<std::string> shapes;  // name=1x3x224x224
  std::string device = "cpu";
  std::string cache_dir;            // empty: default location
  bool no_cache = false;
  int optimization_level = 3;
  std::string precision = "fp32";

  void add_to(CLI::App& app);
  BuildConfig config() const;
  // nullptr when --no-cache.
  std::unique_ptr<DiskEngineCache> open_cache() const;
};

bool is_engine_file(const std::string& path);
std::string format_shape(const std::vector<int64_t>& shape);
std::string format_bytes(uint64_t bytes);
// One line per output: name, dtype, shape and min/max/mean for float outputs.
void print_summary(const std::vector<NamedTensor>& outputs);

// Random but reproducible inputs for the engine's input specs (dynamic dims → opt or 1).
std::map<std::string, Tensor> random_inputs(const Engine& engine, uint32_t seed);

using Command = std::function<int()>;
void add_info_command(CLI::App& app, Command& run);
void add_build_command(CLI::App& app, Command& run);
void add_run_command(CLI::App& app, Command& run);

}  // namespace kiln::cli
