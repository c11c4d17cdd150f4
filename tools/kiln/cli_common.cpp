#include "cli_common.h"

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "core/dispatch.h"
#include "kiln/error.h"

namespace kiln::cli {

void BuildOptions::add_to(CLI::App& app) {
  app.add_option("--shape", shapes, "Input shape for dynamic dims, NAME=1x3x224x224 (repeatable)");
  app.add_option("--device", device, "Device to build for and run on: auto (the GPU when there is one), cpu, cuda, cuda:N")
      ->capture_default_str();
  app.add_option("--cache", cache_dir, "Engine cache directory (default: $XDG_CACHE_HOME/kiln or ~/.cache/kiln)");
  app.add_flag("--no-cache", no_cache, "Neither read nor write the engine cache");
  app.add_option("--redis", redis, "Shared Redis engine cache HOST:PORT behind the disk cache (or $KILN_REDIS)");
  app.add_option("-O,--opt-level", optimization_level, "Optimization level 0-3")->capture_default_str()
      ->check(CLI::Range(0, 3));
  app.add_option("--precision", precision, "fp32 | fp16 | bf16")->capture_default_str()
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  app.add_option("--timing-cache", timing_cache_path,
                 "Kernel timing cache file (default: timing_cache.json in the cache directory)");
  app.add_option("--threads", threads, "CPU kernel threads, for timing at build and running (0: all cores)")
      ->capture_default_str()->check(CLI::Range(0, 4096));
}

std::filesystem::path BuildOptions::timing_path() const {
  if (!timing_cache_path.empty()) return timing_cache_path;
  return (cache_dir.empty() ? default_cache_dir() : std::filesystem::path(cache_dir)) / k_timing_cache_file;
}

void BuildOptions::save_timing_cache() const {
  if (!m_timing || m_timing->size() == m_timing_loaded_size) return;
  try {
    std::filesystem::create_directories(timing_path().parent_path());
    m_timing->save(timing_path());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: warning: timing cache not saved: %s\n", e.what());
  }
}

BuildConfig BuildOptions::config() const {
  BuildConfig c;
  c.device = resolved_device();
  c.cpu_threads = threads;
  c.optimization_level = optimization_level;
  c.precision = parse_precision(precision);
  for (const std::string& s : shapes) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(ErrorCode::InvalidArgument, "--shape '" + s + "': expected NAME=DIMxDIMx...");
    Shape shape;
    std::stringstream ss(s.substr(eq + 1));
    std::string dim;
    while (std::getline(ss, dim, 'x')) {
      try {
        size_t used = 0;
        shape.push_back(std::stoll(dim, &used));
        if (used != dim.size() || shape.back() < 0) throw std::invalid_argument(dim);
      } catch (const std::exception&) {
        throw Error(ErrorCode::InvalidArgument, "--shape '" + s + "': '" + dim + "' is not a dimension");
      }
    }
    if (!c.profiles.emplace(s.substr(0, eq), ShapeRange{shape, shape, shape}).second)
      throw Error(ErrorCode::InvalidArgument, "--shape '" + s.substr(0, eq) + "' given twice");
  }
  if (!m_timing) {
    m_timing = std::make_shared<TimingCache>();
    m_timing->load(timing_path());
    m_timing_loaded_size = m_timing->size();
  }
  c.timing_cache = m_timing.get();
  c.on_progress = [](const BuildProgress& p) {
    std::fprintf(stderr, "  [%3d%%] %s\n", static_cast<int>(p.fraction * 100), p.stage.c_str());
  };
  return c;
}

SessionOptions BuildOptions::session_options() const {
  SessionOptions so;
  so.device = resolved_device();
  return so;
}

std::string BuildOptions::resolved_device() const { return device == "auto" ? default_device() : device; }

void print_host_nodes(const Engine& engine) {
  const std::vector<NodePlacement> nodes = engine.host_nodes();
  if (nodes.empty()) return;
  std::printf("%zu node(s) run on the cpu in this %s engine:\n", nodes.size(), engine.backend().c_str());
  for (const auto& n : nodes) std::printf("  %-40s %-18s %s\n", n.node.c_str(), n.op_type.c_str(), n.reason.c_str());
}

BuildOptions::Caches BuildOptions::open_cache() const {
  Caches c;
  if (no_cache) return c;
  c.disk = std::make_unique<DiskEngineCache>(cache_dir.empty() ? default_cache_dir() : std::filesystem::path(cache_dir));
  std::string r = redis;
  if (r.empty() && std::getenv("KILN_REDIS")) r = std::getenv("KILN_REDIS");
  if (!r.empty()) {
    const auto colon = r.rfind(':');
    int port = 6379;
    try {
      if (colon != std::string::npos) port = std::stoi(r.substr(colon + 1));
    } catch (const std::exception&) {
      throw Error(ErrorCode::InvalidArgument, "--redis '" + r + "': expected HOST:PORT");
    }
    c.redis = std::make_unique<RedisEngineCache>(r.substr(0, colon), port);
    c.tiered = std::make_unique<TieredEngineCache>(*c.disk, *c.redis);
  }
  return c;
}

std::string BuildOptions::Caches::where() const {
  if (!disk) return "(cache off)";
  return disk->dir().string() + (redis ? " + redis" : "");
}

void GraphOptions::add_to(CLI::App& app) {
  option = app.add_option("--cuda-graphs", capacity,
                          "Capture each input shape as a CUDA graph and replay it; optional cache capacity (default 8). "
                          "Without it, KILN_AUTO_CUDA_GRAPHS=1 turns graphs on")
               ->expected(0, 1);
}

std::shared_ptr<GraphCache> GraphOptions::cache() const {
  constexpr size_t k_default = 8;
  if (!option || option->count() == 0) return establish_graph_cache(k_default);
  size_t n = k_default;
  if (!capacity.empty()) {
    try {
      size_t used = 0;
      n = std::stoul(capacity, &used);
      if (used != capacity.size() || n == 0) throw std::invalid_argument(capacity);
    } catch (const std::exception&) {
      throw Error(ErrorCode::InvalidArgument, "--cuda-graphs '" + capacity + "': expected a capacity >= 1");
    }
  }
  return std::make_shared<GraphCache>(n);
}

bool is_engine_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.gcount() == 8 && std::string(magic, 7) == "KILNENG";
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  return s + "]";
}

std::string format_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", b / double(1ull << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

void print_summary(const std::vector<NamedTensor>& outputs) {
  for (const auto& [name, t] : outputs) {
    std::printf("  %-24s %-8s %-18s", name.c_str(), std::string(dtype_name(t.dtype())).c_str(),
                format_shape(t.shape()).c_str());
    const int64_t n = t.numel();
    if (n > 0 && t.dtype() != DataType::Bool) {
      double lo = read_double(t, 0), hi = lo, sum = 0;
      int64_t argmax = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double v = read_double(t, i);
        if (v > hi) { hi = v; argmax = i; }
        lo = std::min(lo, v);
        sum += v;
      }
      std::printf(" min %.4g  max %.4g (at %lld)  mean %.4g", lo, hi, static_cast<long long>(argmax), sum / n);
    }
    std::printf("\n");
  }
}

std::map<std::string, Tensor> random_inputs(const Engine& engine, uint32_t seed) {
  std::mt19937 rng(seed);
  std::map<std::string, Tensor> out;
  for (const TensorSpec& s : engine.inputs()) {
    Shape shape;
    for (size_t d = 0; d < s.shape.size(); ++d)
      shape.push_back(s.shape[d] >= 0 ? s.shape[d] : (!s.opt.empty() ? s.opt[d] : 1));
    Tensor t = Tensor::empty(s.dtype, shape);
    std::normal_distribution<float> normal(0.f, 1.f);
    dispatch_all(s.dtype, "random input '" + s.name + "'", [&](auto tag) {
      using T = decltype(tag);
      T* p = t.data<T>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        if constexpr (std::is_same_v<T, bool>) p[i] = rng() & 1;
        else if constexpr (std::is_integral_v<T>) p[i] = static_cast<T>(rng() % 4);  // small: often indices
        else p[i] = T(normal(rng));
      }
    });
    out[s.name] = t;
  }
  return out;
}

}  // namespace kiln::cli
