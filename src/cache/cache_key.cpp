#include "cache/cache_key.h"

#include "core/sha256.h"
#include "engine/format.h"
#include "ir/serialize.h"

#ifndef KILN_VERSION
#define KILN_VERSION "dev"
#endif

namespace kiln::cache {

CacheKey engine_cache_key(const ir::Graph& graph, const BuildConfig& config, const std::string& env_fingerprint) {
  CacheKey key;
  Sha256 h;
  auto add = [&](const std::string& name, const std::string& value, const std::string& shown) {
    h.field(name, value);
    key.fields.push_back({name, shown});
  };
  const std::string format = "engine-format=" + std::to_string(engine::k_format_version) + " kiln=" + KILN_VERSION;
  add("format", format, format);
  add("env", env_fingerprint, env_fingerprint);

  const std::string text = ir::canonical_text(graph);
  add("graph", text, "sha256:" + to_hex(sha256(text.data(), text.size())) + " (" +
                         std::to_string(graph.nodes.size()) + " nodes)");

  if (config.weightless) {
    add("weights", "weightless", "(weightless: not hashed)");
  } else {
    Sha256 w;
    size_t bytes = 0;
    for (const Tensor* t : ir::canonical_constants(graph)) {
      w.field(dtype_name(t->dtype()), shape_str(t->shape()));
      w.update(t->raw(), t->nbytes());
      bytes += t->nbytes();
    }
    const std::string digest = to_hex(w.finish());
    add("weights", digest, "sha256:" + digest + " (" + std::to_string(bytes) + " bytes)");
  }

  std::string inputs;
  for (ir::ValueId id : graph.inputs) {
    const ir::Value& v = graph.value(id);
    inputs += std::string(dtype_name(v.dtype)) + (v.shape ? ir::sym_str(*v.shape) : "[*]") + ";";
  }
  add("inputs", inputs, inputs);

  std::string cfg;
  for (const std::string& f : config.invariant_fields()) cfg += f + "\n";
  add("config", cfg, cfg.empty() ? "" : cfg.substr(0, cfg.size() - 1));
  key.hex = to_hex(h.finish());
  return key;
}

}  // namespace kiln::cache
