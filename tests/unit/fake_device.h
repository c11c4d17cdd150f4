// A fake GPU for testing the device-aware runtime without one: a backend of
// kind "cuda" whose "device memory" is host memory it tracks, whose kernels
// are the CPU's, wrapped to check that every input arrives in the memory the
// backend said (device, or host for its host inputs) and every output is
// device memory. Registering it replaces the real CUDA backend in the test
// process. Ops in `missing` have no kernel, so they fall back to the CPU.
#pragma once

#include <atomic>
#include <cstdlib>
#include <functional>
#include <vector>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/transfer.h"
#include "kiln/error.h"

namespace kiln::test {

struct FakeStats {
  std::atomic<int64_t> allocations{0}, allocated_bytes{0}, live{0}, copies{0}, violations{0}, kernel_runs{0};
  std::mutex mutex;
  std::map<const uint8_t*, size_t> blocks;  // live device blocks
  std::string last_violation;

  bool is_device(const void* p) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto* b = static_cast<const uint8_t*>(p);
    auto it = blocks.upper_bound(b);
    if (it == blocks.begin()) return false;
    --it;
    return b >= it->first && b < it->first + std::max<size_t>(it->second, 1);
  }
  void violation(const std::string& what) {
    ++violations;
    std::lock_guard<std::mutex> lock(mutex);
    last_violation = what;
  }
};

inline FakeStats& fake_stats() {
  static FakeStats s;
  return s;
}

class FakeAllocator final : public backend::Allocator {
 public:
  void* allocate(size_t bytes) override {
    void* p = std::aligned_alloc(256, ((bytes + 255) / 256) * 256 + 256);
    FakeStats& s = fake_stats();
    ++s.allocations;
    s.allocated_bytes += static_cast<int64_t>(bytes);
    ++s.live;
    std::lock_guard<std::mutex> lock(s.mutex);
    s.blocks[static_cast<uint8_t*>(p)] = bytes;
    return p;
  }
  void deallocate(void* p) override {
    if (!p) return;
    FakeStats& s = fake_stats();
    --s.live;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.blocks.erase(static_cast<uint8_t*>(p));
    }
    std::free(p);
  }
};

// A stream that can record: while a capture is on, every kernel run on it
// is also taped (the fake "graph"), and a replay runs the tape again on the
// same buffers, as a CUDA graph does.
class FakeStream final : public backend::Stream {
 public:
  void synchronize() override {}
  std::vector<std::function<void()>>* tape = nullptr;  // recording into `recorded` while set
  std::vector<std::function<void()>> recorded;
};

class FakeCapture final : public backend::Capture {
 public:
  explicit FakeCapture(std::vector<std::function<void()>> tape) : m_tape(std::move(tape)) {}
  void replay(backend::Stream&) override {
    ++replays();
    for (auto& f : m_tape) f();
  }
  static std::atomic<int64_t>& replays() {
    static std::atomic<int64_t> n{0};
    return n;
  }

 private:
  std::vector<std::function<void()>> m_tape;
};

// Inputs the fake's kernels read on the host (a subset of CUDA's table).
inline bool fake_host_input(const ir::Node& n, size_t i) {
  static const std::map<std::string, std::set<size_t>> k = {
      {"Reshape", {1}}, {"Unsqueeze", {1}}, {"Squeeze", {1}}, {"Slice", {1, 2, 3, 4}},
      {"Expand", {1}},  {"Tile", {1}},      {"ConstantOfShape", {0}}, {"Range", {0, 1, 2}}};
  auto it = k.find(n.op_type);
  return n.domain.empty() && it != k.end() && it->second.count(i);
}

class CheckedKernel final : public backend::Kernel {
 public:
  CheckedKernel(std::unique_ptr<backend::Kernel> inner, const ir::Node& node) : m_inner(std::move(inner)), m_node(node) {}
  void run(backend::KernelContext& ctx) override {
    FakeStats& s = fake_stats();
    ++s.kernel_runs;
    const bool to_device = backend::is_transfer(m_node) && m_node.op_type == backend::k_to_device;
    const bool to_host = backend::writes_host_always(m_node);
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) continue;
      const Tensor& t = ctx.input(i);
      const bool want_host = to_device || fake_host_input(m_node, i);
      if (want_host != t.on_host() || (!t.on_host() && t.nbytes() && !s.is_device(t.raw())))
        s.violation(m_node.label() + " input " + std::to_string(i) + " in the wrong memory");
    }
    m_inner->run(ctx);
    (void)to_host;
    auto* fs = dynamic_cast<FakeStream*>(ctx.stream());
    if (fs && fs->tape) {
      // Replays run the kernel again on the same input and output buffers.
      std::vector<Tensor> ins, outs = ctx.outputs();
      for (size_t i = 0; i < ctx.num_inputs(); ++i) ins.push_back(ctx.has_input(i) ? ctx.input(i) : Tensor());
      backend::Kernel* inner = m_inner.get();
      const ir::Node* node = &m_node;
      const int64_t opset = ctx.opset();
      fs->tape->push_back([inner, node, opset, ins, outs] {
        std::vector<const Tensor*> in_ptrs;
        for (const Tensor& t : ins) in_ptrs.push_back(t.defined() ? &t : nullptr);
        std::vector<Tensor> o(outs.size());
        backend::KernelContext c(*node, opset, in_ptrs, o, [&](size_t i, DataType, const Shape&) { return outs.at(i); },
                                 nullptr);
        inner->run(c);
      });
    }
  }
  bool capturable() const override { return m_inner->capturable(); }

 private:
  std::unique_ptr<backend::Kernel> m_inner;
  const ir::Node& m_node;
};

class FakeDevice final : public backend::Backend {
 public:
  FakeDevice(int index, std::set<std::string> missing) : m_index(index) {
    const backend::KernelRegistry& cpu = backend::cpu_backend().kernels();
    for (const std::string& op : cpu.op_types()) {
      if (missing.count(op)) continue;
      const backend::KernelFactory inner = *cpu.find(op);
      m_kernels.add(op, [inner](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<backend::Kernel> {
        return std::make_unique<CheckedKernel>(inner(n, g), n);
      }, "fake");
    }
  }
  std::string name() const override { return "cuda"; }
  Device device() const override { return Device{DeviceKind::CUDA, m_index}; }
  std::string fingerprint() const override { return "fake-gpu"; }
  backend::Allocator& allocator() override { return m_alloc; }
  std::unique_ptr<backend::Stream> create_stream(const backend::StreamConfig&) override {
    return std::make_unique<FakeStream>();
  }
  void copy(void* dst, const Device& dd, const void* src, const Device& sd, size_t n, backend::Stream&) override {
    FakeStats& s = fake_stats();
    ++s.copies;
    if (n && (!dd.is_host() != s.is_device(dst) || !sd.is_host() != s.is_device(src)))
      s.violation("copy from " + sd.str() + " to " + dd.str() + " with pointers in the other memory");
    if (n) std::memcpy(dst, src, n);
  }
  const backend::KernelRegistry& kernels() const override { return m_kernels; }
  bool host_input(const ir::Node& n, size_t i) const override { return fake_host_input(n, i); }
  // The CPU kernels it wraps compute 16-bit floats in the elementwise ops
  // only (the registry alone does not say which dtypes a kernel takes).
  bool supports(const ir::Graph& g, const ir::Node& n, std::string* why) const override {
    if (!backend::Backend::supports(g, n, why)) return false;
    static const std::set<std::string> half_ops = {"Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Cast"};
    const auto is_half = [&](ir::ValueId v) {
      return v != ir::k_no_value && (g.value(v).dtype == DataType::Float16 || g.value(v).dtype == DataType::BFloat16);
    };
    bool half = false;
    for (ir::ValueId v : n.inputs) half |= is_half(v);
    for (ir::ValueId v : n.outputs) half |= is_half(v);
    if (half && !half_ops.count(n.op_type)) {
      if (why) *why = n.op_type + " takes no 16-bit floats here";
      return false;
    }
    return true;
  }

  bool can_capture() const override { return capture_on(); }
  void begin_capture(backend::Stream& s) override {
    auto& fs = dynamic_cast<FakeStream&>(s);
    fs.recorded.clear();
    fs.tape = &fs.recorded;
  }
  std::unique_ptr<backend::Capture> end_capture(backend::Stream& s) override {
    auto& fs = dynamic_cast<FakeStream&>(s);
    fs.tape = nullptr;
    std::vector<std::function<void()>> tape = std::move(fs.recorded);
    fs.recorded.clear();
    if (const char* f = std::getenv("KILN_FAULT"); f && std::string(f) == "capture")
      throw Error(ErrorCode::Cuda, "fake capture failed (KILN_FAULT=capture)");
    return std::make_unique<FakeCapture>(std::move(tape));
  }
  void abort_capture(backend::Stream& s) override {
    auto& fs = dynamic_cast<FakeStream&>(s);
    fs.tape = nullptr;
    fs.recorded.clear();
  }
  // Whether the fake captures (off unless a test turns it on).
  static bool& capture_on() {
    static bool on = false;
    return on;
  }

 private:
  int m_index;
  FakeAllocator m_alloc;
  backend::KernelRegistry m_kernels;
};

// Makes "cuda" the fake for this process; ops in `missing` fall back to the CPU.
inline void install_fake_device(std::set<std::string> missing) {
  backend::register_backend("cuda", [missing](int index) { return std::make_unique<FakeDevice>(index, missing); });
}

}  // namespace kiln::test
