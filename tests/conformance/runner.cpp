// ONNX backend conformance runner. For each test directory under the given
// suite roots: import the model, build an engine for --device (cpu, cuda) for
// the shapes of each data set, run it and compare with the reference outputs.
//
// Skips are explicit: a test is skipped only when skip_list.txt (or another
// --skip-list, such as skip_list_fp16.txt for --precision fp16) names it, with
// its reason. A test that is not listed must pass: if kiln refuses its model
// (an op it lacks) the run fails and says which line to add, so a kernel that
// starts refusing shows up instead of turning a pass into a silent skip; a
// listed test that passes fails the run too (drop its line). --write-skips
// FILE writes the list of the tests kiln refuses, with their reasons.
//
// Tests run in worker processes (--jobs), each taking the next test from a
// shared counter and running it in process, so a device is set up once per
// worker, not once per test; a crash or a hang (60 s) fails that test only
// and the worker is replaced. On a device, a test whose engine runs some nodes
// on the CPU still counts (that is how a CUDA engine runs such ops); the
// summary says how many did.
//
// usage: kiln_conformance [--device D] [--precision fp16|bf16] [--jobs N] [--skip-list FILE]...
//                         [--write-skips FILE] [--filter SUBSTR] [-v] ROOT...
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "kiln/builder.h"
#include "kiln/error.h"
#include "kiln/session.h"
#include "onnx/tensor_proto.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

Precision g_precision = Precision::FP32;  // --precision fp16|bf16: engines compute in 16 bits (a GPU)

struct Tolerance {
  double rtol = 1e-3, atol = 1e-5;
};

// Tests whose reference data needs a looser tolerance than the default, and why.
Tolerance tolerance_for(const std::string& test) {
  Tolerance t;
  // float16/bfloat16 results carry ~3 significant digits.
  if (test.find("fp16") != std::string::npos || test.find("float16") != std::string::npos ||
      test.find("bfloat16") != std::string::npos)
    t = {4e-3, 1e-3};
  // A 16-bit engine against float32 references: 16-bit rounding of every
  // intermediate (fp16 ~3 digits, bf16 ~2).
  if (g_precision == Precision::FP16) t = {2e-2, 2e-3};
  if (g_precision == Precision::BF16) t = {1e-1, 1e-2};
  return t;
}

std::string compare(const std::string& name, const Tensor& want, const Tensor& got, const Tolerance& tol) {
  if (want.dtype() != got.dtype())
    return name + ": dtype " + std::string(dtype_name(got.dtype())) + ", expected " + std::string(dtype_name(want.dtype()));
  if (want.shape() != got.shape())
    return name + ": shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape());
  const bool is_float = dtype_is_float(want.dtype());
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (is_float) {
      const double w = read_double(want, i), g = read_double(got, i);
      if (std::isnan(w) && std::isnan(g)) continue;
      if (std::isinf(w) && w == g) continue;
      if (!(std::fabs(w - g) <= tol.atol + tol.rtol * std::fabs(w)))
        return name + "[" + std::to_string(i) + "]: got " + std::to_string(g) + ", expected " + std::to_string(w);
    } else if (read_int(want, i) != read_int(got, i)) {
      return name + "[" + std::to_string(i) + "]: got " + std::to_string(read_int(got, i)) + ", expected " +
             std::to_string(read_int(want, i));
    }
  }
  return "";
}

std::vector<fs::path> sorted_pbs(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) == 0 && e.path().extension() == ".pb")
      files.emplace_back(std::stoi(n.substr(prefix.size())), e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<fs::path> out;
  for (auto& f : files) out.push_back(f.second);
  return out;
}

std::string g_device = "cpu";
int g_cpu_threads = 0;  // 1 when several workers share the cores

// Runs one test in this process. Returns "" on pass, else the failure.
// Throws kiln::Error(Unsupported) for a model kiln cannot build. `fallback`:
// whether some node ran on the CPU in a device engine.
std::string run_test(const fs::path& dir, bool* fallback) {
  const Model model = Model::load((dir / "model.onnx").string());
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return "no test_data_set_* directories";
  const auto inputs_info = model.inputs();
  const auto outputs_info = model.outputs();
  const Tolerance tol = tolerance_for(dir.filename().string());

  for (const fs::path& set : sets) {
    std::vector<fs::path> in_files = sorted_pbs(set, "input_"), out_files = sorted_pbs(set, "output_");
    if (in_files.size() > inputs_info.size()) return "more input files than model inputs";
    std::map<std::string, Tensor> inputs;
    BuildConfig config;
    config.device = g_device;
    config.precision = g_precision;
    config.cpu_threads = g_cpu_threads;
    for (size_t i = 0; i < in_files.size(); ++i) {
      Tensor t = kiln::onnx::load_tensor_pb(in_files[i].string());
      const Shape& s = t.shape();
      config.profiles[inputs_info[i].name] = ShapeRange{s, s, s};
      inputs[inputs_info[i].name] = t;
    }
    Engine engine = build_engine(model, config);
    *fallback |= !engine.host_nodes().empty();
    Session session(engine);
    const std::vector<NamedTensor> outs = session.run(inputs);
    if (out_files.size() != outs.size())
      return std::to_string(outs.size()) + " outputs, expected " + std::to_string(out_files.size());
    for (size_t i = 0; i < out_files.size(); ++i) {
      const Tensor want = kiln::onnx::load_tensor_pb(out_files[i].string());
      std::string diff = compare(outs[i].name, want, outs[i].tensor, tol);
      if (!diff.empty()) return set.filename().string() + ": " + diff;
    }
  }
  return "";
}

enum class Outcome { Pass = 0, Fail = 1, Unsupported = 2, Crash = 3 };

struct Result {
  Outcome outcome = Outcome::Crash;
  bool fallback = false;
  std::string message;
};

// Shared with the workers (an anonymous shared mapping): the next test to
// take, and per test a state and a short message.
struct Shared {
  std::atomic<int> next{0};
};
struct Slot {
  std::atomic<int> state{0};  // 0 untaken, 1 running (pid below), 2 done
  std::atomic<int> pid{0};
  int outcome = 0;
  int fallback = 0;
  char message[1024] = {};
};

void worker(const std::vector<fs::path>& tests, Shared* shared, Slot* slots) {
  for (;;) {
    const int i = shared->next.fetch_add(1);
    if (i >= static_cast<int>(tests.size())) _exit(0);
    Slot& slot = slots[i];
    slot.pid = static_cast<int>(getpid());
    slot.state = 1;
    alarm(60);
    Outcome o;
    std::string msg;
    bool fallback = false;
    try {
      msg = run_test(tests[static_cast<size_t>(i)], &fallback);
      o = msg.empty() ? Outcome::Pass : Outcome::Fail;
    } catch (const Error& e) {
      msg = e.what();
      o = e.code() == ErrorCode::Unsupported ? Outcome::Unsupported : Outcome::Fail;
    } catch (const std::exception& e) {
      msg = std::string("std::exception: ") + e.what();
      o = Outcome::Fail;
    }
    alarm(0);
    std::snprintf(slot.message, sizeof slot.message, "%s", msg.c_str());
    slot.outcome = static_cast<int>(o);
    slot.fallback = fallback;
    slot.state = 2;
  }
}

// Runs every test in `jobs` worker processes; a worker that dies marks the
// test it was running as crashed and a new one carries on.
std::vector<Result> run_all(const std::vector<fs::path>& tests, int jobs) {
  const size_t bytes = sizeof(Shared) + sizeof(Slot) * std::max<size_t>(tests.size(), 1);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    std::exit(2);
  }
  auto* shared = new (mem) Shared;
  auto* slots = reinterpret_cast<Slot*>(static_cast<char*>(mem) + sizeof(Shared));
  for (size_t i = 0; i < tests.size(); ++i) new (&slots[i]) Slot;
  int running = 0;
  const auto spawn = [&] {
    const pid_t pid = fork();
    if (pid == 0) worker(tests, shared, slots);
    ++running;
  };
  for (int j = 0; j < std::max(jobs, 1); ++j) spawn();
  while (running > 0) {
    int status = 0;
    const pid_t pid = wait(&status);
    if (pid < 0) break;
    --running;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    // It died in the test it was running.
    for (size_t i = 0; i < tests.size(); ++i) {
      if (slots[i].state == 1 && slots[i].pid == pid) {
        const std::string why = WIFSIGNALED(status) ? (WTERMSIG(status) == SIGALRM ? std::string("timed out (60 s)")
                                                                                  : std::string("crashed: ") + strsignal(WTERMSIG(status)))
                                                    : "worker exited with " + std::to_string(WEXITSTATUS(status));
        std::snprintf(slots[i].message, sizeof slots[i].message, "%s", why.c_str());
        slots[i].outcome = static_cast<int>(Outcome::Crash);
        slots[i].state = 2;
      }
    }
    if (shared->next.load() < static_cast<int>(tests.size())) spawn();
  }
  std::vector<Result> out(tests.size());
  for (size_t i = 0; i < tests.size(); ++i) {
    out[i].outcome = slots[i].state == 2 ? static_cast<Outcome>(slots[i].outcome) : Outcome::Crash;
    out[i].fallback = slots[i].fallback;
    out[i].message = slots[i].state == 2 ? slots[i].message : "never ran";
  }
  munmap(mem, bytes);
  return out;
}

// Groups "Unsupported" errors by cause, without node or tensor names.
std::string unsupported_reason(const std::string& msg) {
  static const std::pair<std::regex, std::string> k_rules[] = {
      {std::regex(R"(\(([A-Za-z0-9_]+)\): op '[^']+' is not supported)"), "op $1 not implemented"},
      {std::regex(R"(no cpu kernel for ([A-Za-z0-9_]+))"), "op $1 has no cpu kernel"},
      {std::regex(R"(element type (float8|float4|u?int[24]\b)\w*)"), "float8/float4/int4/int2 dtypes not supported"},
      {std::regex(R"(element type (string|8 ))"), "string tensors not supported"},
      {std::regex(R"(element type (complex\w*|1[45] ))"), "complex dtypes not supported"},
      {std::regex(R"(training_mode)"), "training mode not supported (inference engine)"},
      {std::regex(R"(only dense tensor types)"), "sequence/map/optional types not supported"},
      {std::regex(R"(in domain '([^']+)')"), "domain $1 not supported"},
      {std::regex(R"(opset ([0-9]+) of the default ONNX domain)"), "opset $1 of ai.onnx not supported"},
  };
  for (const auto& [re, fmt] : k_rules) {
    std::smatch m;
    if (std::regex_search(msg, m, re)) return m.format(fmt);
  }
  std::string r = msg;
  if (auto p = r.find("model.onnx: "); p != std::string::npos) r = r.substr(p + 12);
  return r.substr(0, 120);
}

struct Skip {
  std::string reason, list;  // list: the file that names the test
};

std::map<std::string, Skip> read_skip_list(const std::string& path) {
  std::map<std::string, Skip> skips;
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "skip list %s cannot be read\n", path.c_str());
    std::exit(2);
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string name, reason;
    ss >> name;
    std::getline(ss, reason);
    reason.erase(0, reason.find_first_not_of(" \t"));
    if (reason.empty()) {
      std::fprintf(stderr, "skip list entry '%s' has no reason\n", name.c_str());
      std::exit(2);
    }
    skips[name] = Skip{reason, fs::path(path).filename().string()};
  }
  return skips;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> skip_paths;
  std::string write_skips, filter;
  std::vector<fs::path> roots;
  bool verbose = false;
  int jobs = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--skip-list" && i + 1 < argc) skip_paths.emplace_back(argv[++i]);
    else if (a == "--write-skips" && i + 1 < argc) write_skips = argv[++i];
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "--device" && i + 1 < argc) g_device = argv[++i];
    else if (a == "--precision" && i + 1 < argc) {
      const std::string p = argv[++i];
      g_precision = p == "fp16" ? Precision::FP16 : p == "bf16" ? Precision::BF16 : Precision::FP32;
    }
    else if (a == "--jobs" && i + 1 < argc) jobs = std::atoi(argv[++i]);
    else if (a == "-v") verbose = true;
    else roots.emplace_back(a);
  }
  if (g_precision != Precision::FP32 && g_device == "cpu") {
    std::fprintf(stderr, "--precision %s needs a GPU device (--device cuda): the cpu builds fp32 only\n",
                 std::string(precision_name(g_precision)).c_str());
    return 2;
  }
  std::map<std::string, Skip> skips;  // every --skip-list given, merged
  for (const std::string& path : skip_paths) skips.merge(read_skip_list(path));
  std::vector<fs::path> tests;
  for (const auto& root : roots) {
    if (!fs::is_directory(root)) {
      std::fprintf(stderr, "conformance root %s not found\n", root.c_str());
      return 2;
    }
    for (const auto& e : fs::directory_iterator(root))
      if (e.is_directory() && fs::exists(e.path() / "model.onnx") &&
          (filter.empty() || e.path().filename().string().find(filter) != std::string::npos))
        tests.push_back(e.path());
  }
  std::sort(tests.begin(), tests.end());

  if (jobs > 1) g_cpu_threads = 1;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Result> results = run_all(tests, jobs);
  int passed = 0, failed = 0, skipped = 0, with_fallback = 0;
  std::map<std::string, int> skip_reasons;
  std::vector<std::pair<std::string, std::string>> refused;  // test, reason
  for (size_t i = 0; i < tests.size(); ++i) {
    const std::string name = tests[i].filename().string();
    const Result& r = results[i];
    auto listed = skips.find(name);
    if (r.outcome == Outcome::Unsupported) refused.emplace_back(name, unsupported_reason(r.message));
    if (listed != skips.end()) {
      if (r.outcome == Outcome::Pass) {
        ++failed;
        std::printf("FAIL %s passes but %s lists it (%s): drop the line\n", name.c_str(),
                    listed->second.list.c_str(), listed->second.reason.c_str());
      } else {
        ++skipped;
        ++skip_reasons[listed->second.reason];
        if (verbose) std::printf("SKIP %s: %s\n", name.c_str(), listed->second.reason.c_str());
      }
    } else if (r.outcome == Outcome::Pass) {
      ++passed;
      with_fallback += r.fallback;
      if (verbose) std::printf("PASS %s%s\n", name.c_str(), r.fallback ? " (some nodes on the cpu)" : "");
    } else if (r.outcome == Outcome::Unsupported) {
      ++failed;
      std::printf("FAIL %s: refused, and no skip list names it (add \"%s  %s\" if that is intended)\n",
                  name.c_str(), name.c_str(), unsupported_reason(r.message).c_str());
    } else {
      ++failed;
      std::printf("FAIL %s: %s\n", name.c_str(), r.message.c_str());
    }
  }
  if (!write_skips.empty()) {
    std::ofstream out(write_skips);
    out << "# ONNX conformance tests kiln skips, one per line: TEST_NAME  REASON\n"
           "# Written by kiln_conformance --write-skips from the tests kiln refuses; the\n"
           "# runner fails on a refusal this list lacks and on a listed test that passes.\n";
    for (const auto& [name, reason] : refused) out << name << "  " << reason << "\n";
    std::printf("wrote %zu skips to %s\n", refused.size(), write_skips.c_str());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::pair<int, std::string>> reasons;
  for (const auto& [r, n] : skip_reasons) reasons.emplace_back(n, r);
  std::sort(reasons.rbegin(), reasons.rend());
  std::printf("\nskips by reason:\n");
  for (const auto& [n, r] : reasons) std::printf("  %5d  %s\n", n, r.c_str());
  std::printf("conformance on %s%s: %zu tests in %.1f s (%d workers)\n", g_device.c_str(),
              g_precision == Precision::FP32 ? "" : (" " + std::string(precision_name(g_precision))).c_str(), tests.size(),
              secs, jobs);
  if (g_device != "cpu") std::printf("%d of the passing tests ran some nodes on the cpu\n", with_fallback);
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}
