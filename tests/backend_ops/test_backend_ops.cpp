// Every op of every device backend against the CPU, on the same inputs (see
// backend_ops.h), plus the coverage rules: every CUDA op has a case, and every
// op the CPU runs is either on CUDA or in cuda_skip_list.txt with its reason.
// Without a GPU the device comparisons skip (tests/skips.txt says so); the
// coverage rules and the cases themselves still run on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "backend_ops.h"
#include "backends/backend.h"
#include "backends/transfer.h"
#include "core/dispatch.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#ifdef KILN_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace kiln::test::ops {
namespace {

ir::Graph graph_of(const OpCase& c) {
  ir::Graph g;
  g.opsets[""] = c.opset;
  if (!c.domain.empty()) g.opsets[c.domain] = 1;
  ir::Node node;
  node.name = "n0";
  node.op_type = c.op;
  node.domain = c.domain;
  node.attrs = c.attrs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Tensor& t = c.inputs[i];
    if (!t.defined()) { node.inputs.push_back(ir::k_no_value); continue; }
    ir::Value v;
    v.name = "in" + std::to_string(i);
    v.dtype = t.dtype();
    v.shape = ir::to_sym(t.shape());
    v.constant = t;  // so shape inference sees shape operands
    node.inputs.push_back(g.add_value(v));
  }
  for (int i = 0; i < c.num_outputs; ++i) {
    ir::Value v;
    v.name = "out" + std::to_string(i);
    node.outputs.push_back(g.add_value(v));
    g.outputs.push_back(node.outputs.back());
  }
  g.add_node(node);
  ir::infer_node(g, g.nodes[0]);
  return g;
}

// The case without its kiln_* (layout) attributes: what the CPU runs.
OpCase plain_layouts(OpCase c) {
  std::erase_if(c.attrs, [](const auto& a) { return a.first.rfind("kiln_", 0) == 0; });
  return c;
}

// A 4-D NCHW tensor as NHWC (to_nhwc) or back, on the host.
Tensor permute_nchw(const Tensor& t, bool to_nhwc) {
  const Shape& s = t.shape();
  Tensor out = Tensor::empty(t.dtype(), s);
  const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
  const size_t es = dtype_size(t.dtype());
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p) {
        const int64_t nchw = (i * c + ch) * hw + p, nhwc = (i * hw + p) * c + ch;
        std::memcpy(dst + (to_nhwc ? nhwc : nchw) * es, src + (to_nhwc ? nchw : nhwc) * es, es);
      }
  return out;
}

bool nhwc_input(const OpCase& c, size_t k) {
  auto it = c.attrs.find("kiln_in_layouts");
  return it != c.attrs.end() && k < it->second.ints.size() && it->second.ints[k] == 1;
}

// A weight the case marks K,R,S,C (kiln_w_layout 1): a convolution's W, and
// FusedConvPair's W2.
bool krsc_weight(const OpCase& c, size_t k) {
  auto it = c.attrs.find("kiln_w_layout");
  return it != c.attrs.end() && it->second.i == 1 && (k == 1 || (c.op == "FusedConvPair" && k == 4));
}

bool nhwc_output(const OpCase& c) {
  auto it = c.attrs.find("kiln_out_layout");
  return it != c.attrs.end() && it->second.i == 1;
}

std::vector<Tensor> run_cpu(const OpCase& layouts) {
  const OpCase c = plain_layouts(layouts);
  const ir::Graph g = graph_of(c);
  backend::Backend& cpu = backend::host_backend();
  const backend::KernelFactory* f = cpu.kernels().find(c.op);
  if (!f) throw Error(ErrorCode::Unsupported, "no cpu kernel for " + c.op);
  std::vector<const Tensor*> ins;
  for (const Tensor& t : c.inputs) ins.push_back(t.defined() ? &t : nullptr);
  return backend::run_node(cpu, *(*f)(g.nodes[0], g), g, g.nodes[0], ins, nullptr);
}

Tensor to_host(const Tensor& t, backend::Backend& be, backend::Stream& s) {
  if (t.on_host()) return t;
  Tensor h = Tensor::empty(t.dtype(), t.shape());
  be.copy(h.raw(), h.device(), t.raw(), t.device(), t.nbytes(), s);
  s.synchronize();
  return h;
}

// Compares element by element; returns "" or what differs (first few).
std::string compare(const Tensor& got, const Tensor& want, double tol) {
  std::ostringstream os;
  if (got.dtype() != want.dtype())
    return "dtype " + std::string(dtype_name(got.dtype())) + ", want " + std::string(dtype_name(want.dtype()));
  if (got.shape() != want.shape()) return "shape " + shape_str(got.shape()) + ", want " + shape_str(want.shape());
  int bad = 0;
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double a = read_double(got, i), b = read_double(want, i);
    bool ok;
    if (dtype_is_float(got.dtype())) {
      ok = (std::isnan(a) && std::isnan(b)) || a == b || std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b));
      if (std::isfinite(a) && std::isfinite(b)) worst = std::max(worst, std::fabs(a - b) / std::max(1.0, std::fabs(b)));
    } else {
      ok = read_int(got, i) == read_int(want, i);
    }
    if (!ok && ++bad <= 4) os << " [" << i << "] got " << a << " want " << b << ";";
  }
  if (!bad) return "";
  os << " " << bad << " of " << got.numel() << " differ (worst rel " << worst << ", tol " << tol << ")";
  return os.str();
}

// Every device backend this machine has, besides the CPU.
std::vector<backend::Backend*> device_backends(std::string* why_none) {
  std::vector<backend::Backend*> out;
  if (!backend::backend_registered("cuda")) {
    *why_none = "this kiln is built without CUDA";
    return out;
  }
  try {
    out.push_back(&backend::backend_for("cuda:0"));
  } catch (const Error& e) {
    *why_none = e.what();
  }
  return out;
}

TEST(BackendOps, CasesAreUniqueAndRunOnTheCpu) {
  std::set<std::string> names;
  for (const OpCase& c : all_cases()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name " << c.name;
    try {
      const std::vector<Tensor> out = run_cpu(c);
      EXPECT_EQ(out.size(), static_cast<size_t>(c.num_outputs)) << c.name;
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.name << ": the cpu reference fails: " << e.what();
    }
  }
}

#ifdef KILN_WITH_CUDA
TEST(BackendOps, EveryCudaOpHasACase) {
  std::set<std::string> covered;
  for (const OpCase& c : all_cases()) covered.insert(c.op);
  for (const std::string& op : backend::cuda::cuda_kernels().op_types()) {
    if (op == backend::k_to_device || op == backend::k_to_host) continue;  // test_cuda_runtime covers them
    EXPECT_TRUE(covered.count(op)) << "cuda registers " << op << " but no case tests it";
  }
}

// Every op the CPU runs is on CUDA, or listed with the reason it is not (the
// node then runs on the CPU inside a CUDA engine).
TEST(BackendOps, EveryCpuOpIsOnCudaOrListed) {
  std::ifstream in(std::string(std::getenv("KILN_SOURCE_DIR") ? std::getenv("KILN_SOURCE_DIR") : ".") +
                   "/tests/backend_ops/cuda_skip_list.txt");
  ASSERT_TRUE(in) << "tests/backend_ops/cuda_skip_list.txt not found (KILN_SOURCE_DIR)";
  std::map<std::string, std::string> listed;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    ASSERT_NE(colon, std::string::npos) << "skip-list line without a reason: " << line;
    std::string reason = line.substr(colon + 1);
    reason.erase(0, reason.find_first_not_of(' '));
    ASSERT_FALSE(reason.empty()) << "skip-list line without a reason: " << line;
    listed[line.substr(0, colon)] = reason;
  }
  const std::vector<std::string> cuda_ops = backend::cuda::cuda_kernels().op_types();
  const std::set<std::string> on_cuda(cuda_ops.begin(), cuda_ops.end());
  for (const std::string& op : backend::host_backend().kernels().op_types())
    EXPECT_TRUE(on_cuda.count(op) || listed.count(op)) << op << " runs on the cpu but is neither on cuda nor in cuda_skip_list.txt";
  for (const auto& [op, reason] : listed)
    EXPECT_FALSE(on_cuda.count(op)) << op << " is listed in cuda_skip_list.txt but cuda has it now: drop the line";
}
#endif

TEST(BackendOps, DevicesMatchTheCpu) {
  std::string why;
  const std::vector<backend::Backend*> devices = device_backends(&why);
  if (devices.empty()) GTEST_SKIP() << "no device backend: " << why;
  int compared = 0, refused = 0;
  // KILN_OPS_CASES=TEXT: only the cases whose names hold TEXT (one kernel's
  // change checked in little device time; CI leaves it unset).
  const char* only = std::getenv("KILN_OPS_CASES");
  if (only && *only) std::printf("only the cases named with \"%s\" (KILN_OPS_CASES)\n", only);
  for (backend::Backend* be : devices) {
    auto stream = be->create_stream();
    backend::RunScope scope(*stream);
    for (const OpCase& c : all_cases()) {
      if (only && *only && c.name.find(only) == std::string::npos) continue;
      const ir::Graph g = graph_of(c);
      const ir::Node& n = g.nodes[0];
      const std::vector<std::string> names = be->kernels().candidates(c.op);
      if (names.empty()) continue;  // not on this backend (the coverage tests say whether that is allowed)
      std::vector<Tensor> want;
      try {
        want = run_cpu(c);
      } catch (const std::exception& e) {
        continue;  // CasesAreUniqueAndRunOnTheCpu reports it
      }
      // Inputs in the memory the kernel reads them from.
      std::vector<Tensor> held(c.inputs.size());
      std::vector<const Tensor*> ins(c.inputs.size(), nullptr);
      for (size_t k = 0; k < c.inputs.size(); ++k) {
        const bool permuted = c.inputs[k].defined() && (nhwc_input(c, k) || krsc_weight(c, k));
        const Tensor t = permuted ? permute_nchw(c.inputs[k], true) : c.inputs[k];
        if (!t.defined()) continue;
        if (be->host_input(n, k)) {
          held[k] = t;
        } else {
          held[k] = be->empty(t.dtype(), t.shape());
          be->copy(held[k].raw(), held[k].device(), t.raw(), t.device(), t.nbytes(), *stream);
        }
        ins[k] = &held[k];
      }
      stream->synchronize();
      for (const std::string& name : names) {
        const std::string what = c.name + " on " + be->device().str() + " [" + name + "]";
        std::unique_ptr<backend::Kernel> k;
        const bool must_take = name == names.back() || std::count(c.takes.begin(), c.takes.end(), name);
        try {
          k = (*be->kernels().find(c.op, name))(n, g);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::Unsupported || must_take) {
            ADD_FAILURE() << what << ": " << e.what();
          } else {
            ++refused;
          }
          continue;
        }
        try {
          const std::vector<Tensor> got = backend::run_node(*be, *k, g, n, ins, stream.get());
          stream->synchronize();
          ASSERT_EQ(got.size(), want.size()) << what;
          for (size_t o = 0; o < got.size(); ++o) {
            if (!c.compare.empty() &&
                std::find(c.compare.begin(), c.compare.end(), static_cast<int>(o)) == c.compare.end())
              continue;
            if (!want[o].defined()) continue;
            Tensor host = to_host(got[o], *be, *stream);
            if (o == 0 && nhwc_output(c)) host = permute_nchw(host, false);
            const std::string diff = compare(host, want[o], c.tol);
            EXPECT_TRUE(diff.empty()) << what << " output " << o << ":" << diff;
          }
          ++compared;
        } catch (const std::exception& e) {
          ADD_FAILURE() << what << ": " << e.what();
          try {
            stream->synchronize();
          } catch (...) {
          }
        }
      }
    }
  }
  std::printf("compared %d case x candidate runs with the cpu (%d refusals by partial candidates)\n", compared, refused);
  EXPECT_GT(compared, 0);
}

}  // namespace
}  // namespace kiln::test::ops
