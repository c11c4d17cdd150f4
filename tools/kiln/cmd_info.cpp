// kiln info MODEL: inputs, outputs, opsets, op histogram, unsupported ops.
#include <cstdio>

#include "cli_common.h"
#include "kiln/model.h"

namespace kiln::cli {

void add_info_command(CLI::App& app, Command& run) {
  auto* cmd = app.add_subcommand("info", "Describe an ONNX model: I/O, opsets, ops, what kiln cannot run");
  auto path = std::make_shared<std::string>();
  auto device = std::make_shared<std::string>("cpu");
  cmd->add_option("model", *path, "ONNX model file")->required();
  cmd->add_option("--device", *device, "Device to check support against: cpu, cuda, cuda:N")->capture_default_str();
  cmd->callback([&run, path, device] {
    run = [path, device] {
      const Model m = Model::load(*path);
      std::printf("model    %s\n", path->c_str());
      std::printf("opsets  ");
      for (const auto& [d, v] : m.opsets()) std::printf(" %s:%lld", d.empty() ? "ai.onnx" : d.c_str(), static_cast<long long>(v));
      std::printf("\nnodes    %zu\nweights  %s\n", m.num_nodes(), format_bytes(m.weights_bytes()).c_str());
      auto print_io = [](const char* title, const std::vector<TensorInfo>& ts) {
        std::printf("%s\n", title);
        for (const auto& t : ts) {
          std::string shape = "[";
          for (size_t i = 0; i < t.shape.size(); ++i)
            shape += (i ? "," : "") + (t.shape[i] < 0 ? (t.dim_names[i].empty() ? "?" : t.dim_names[i]) : std::to_string(t.shape[i]));
          std::printf("  %-24s %-8s %s\n", t.name.c_str(), std::string(dtype_name(t.dtype)).c_str(), (shape + "]").c_str());
        }
      };
      print_io("inputs", m.inputs());
      print_io("outputs", m.outputs());
      std::printf("ops\n");
      for (const auto& [op, n] : m.op_histogram()) std::printf("  %-24s %d\n", op.c_str(), n);
      const auto unsupported = m.unsupported(*device);
      size_t fallbacks = 0;
      for (const auto& u : unsupported) fallbacks += u.cpu_fallback;
      if (unsupported.empty()) {
        std::printf("support  every node runs on %s\n", device->c_str());
      } else {
        if (fallbacks)
          std::printf("cpu fallback (%zu nodes %s lacks run on the cpu inside the engine)\n", fallbacks, device->c_str());
        for (const auto& u : unsupported)
          if (u.cpu_fallback) std::printf("  %-24s %-16s %s\n", u.node.c_str(), u.op_type.c_str(), u.reason.c_str());
        if (unsupported.size() > fallbacks)
          std::printf("unsupported on %s (%zu nodes)\n", device->c_str(), unsupported.size() - fallbacks);
        for (const auto& u : unsupported)
          if (!u.cpu_fallback) std::printf("  %-24s %-16s %s\n", u.node.c_str(), u.op_type.c_str(), u.reason.c_str());
      }
      return 0;
    };
  });
}

}  // namespace kiln::cli
