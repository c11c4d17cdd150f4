// Building an Engine from a Model. BuildConfig holds every setting that shapes
// the engine; the ones that change the built engine are "engine-invariant" and
// listed in one place (BuildConfig::invariant_fields) because the engine-cache
// key hashes exactly those. Everything else (progress, logging) stays out.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/model.h"
#include "kiln/timing_cache.h"

namespace kiln {

enum class Precision { FP32, FP16, BF16 };
std::string_view precision_name(Precision p);
// "fp32"/"float32", "fp16"/"float16", "bf16"/"bfloat16"; Error(InvalidArgument) otherwise.
Precision parse_precision(std::string_view name);

// An optimization profile for one input: the engine accepts any shape between
// min and max (per dimension) and plans memory for opt.
struct ShapeRange {
  Shape min, opt, max;
};

struct BuildProgress {
  std::string stage;  // "import", "shape inference", "constant folding", "memory plan", ...
  double fraction = 0;  // 0..1 over the whole build
};

struct BuildConfig {
  // ---- engine-invariant: these shape the engine and enter the cache key ----
  Precision precision = Precision::FP32;
  // Input name → shape range. Inputs with fully static model shapes need none;
  // a symbolic dim without a profile stays dynamic (planned per shape at run time).
  std::map<std::string, ShapeRange> profiles;
  int optimization_level = 3;  // 0: no graph passes; 1+: folding, fusions
  bool weight_streaming = false;
  bool weightless = false;     // store no weights; refit from the model on load
  // "cpu" or "cuda[:N]": the device the engine runs on; nodes its backend
  // lacks run on the CPU inside the same engine. Only the device kind enters
  // the cache key (the backend fingerprint names the GPU model), so an engine
  // built on cuda:0 serves cuda:1 of the same model.
  std::string device = "cpu";
  // Threads of the CPU kernels, for timing them at build time and running
  // them after (SessionOptions::threads overrides the latter); 0 = all cores.
  int cpu_threads = 0;

  // ---- not invariant: do not change the engine ----
  std::function<void(const BuildProgress&)> on_progress;
  // Measured kernel timings reused between builds (not owned; may be null: time
  // every choice and remember nothing). Kernel choice is by measurement, so an
  // engine built with or without it is interchangeable.
  TimingCache* timing_cache = nullptr;

  // "name=value" lines of the invariant fields, in a fixed order: what the cache
  // key hashes and what `kiln cache explain` prints.
  std::vector<std::string> invariant_fields() const;
};

Engine build_engine(const Model& model, const BuildConfig& config = {});

// The device to use when none is named: "cuda:0" when this kiln is built with
// CUDA and the machine has a usable GPU, else "cpu".
std::string default_device();

}  // namespace kiln
