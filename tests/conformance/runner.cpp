// ONNX backend conformance runner. For each test directory under the given
// suite roots: import the model, build a CPU engine for the shapes of
// test_data_set_0, run every data set and compare with the reference outputs.
//
// A test is skipped when its model uses an op kiln does not implement (the
// reason names the op) or when skip_list.txt lists it (with its reason). Every
// other test must pass. Each test runs in a forked child, so a crash fails that
// test only. Prints "N passed, N failed, N skipped" and skip counts per reason.
//
// usage: kiln_conformance [--skip-list FILE] [--filter SUBSTR] [-v] ROOT...
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
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

// Runs one test in this process. Returns "" on pass, else the failure.
// Throws kiln::Error(Unsupported) for a model kiln cannot build.
std::string run_test(const fs::path& dir) {
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
    for (size_t i = 0; i < in_files.size(); ++i) {
      Tensor t = kiln::onnx::load_tensor_pb(in_files[i].string());
      const Shape& s = t.shape();
      config.profiles[inputs_info[i].name] = ShapeRange{s, s, s};
      inputs[inputs_info[i].name] = t;
    }
    Engine engine = build_engine(model, config);
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

enum class Outcome { Pass = 0, Fail = 1, Unsupported = 2 };

// Forks so that a crash or hang in one test cannot take the suite down.
Outcome run_isolated(const fs::path& dir, std::string* message, int timeout_s) {
  int pipefd[2];
  if (pipe(pipefd) != 0) { *message = "pipe failed"; return Outcome::Fail; }
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    alarm(static_cast<unsigned>(timeout_s));
    Outcome o;
    std::string msg;
    try {
      msg = run_test(dir);
      o = msg.empty() ? Outcome::Pass : Outcome::Fail;
    } catch (const Error& e) {
      msg = e.what();
      o = e.code() == ErrorCode::Unsupported ? Outcome::Unsupported : Outcome::Fail;
    } catch (const std::exception& e) {
      msg = std::string("std::exception: ") + e.what();
      o = Outcome::Fail;
    }
    msg = msg.substr(0, 4000);
    if (write(pipefd[1], msg.data(), msg.size()) < 0) {}
    close(pipefd[1]);
    _exit(static_cast<int>(o));
  }
  close(pipefd[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    *message = std::string("crashed: ") + strsignal(WTERMSIG(status));
    return Outcome::Fail;
  }
  *message = msg;
  return static_cast<Outcome>(WEXITSTATUS(status));
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

std::map<std::string, std::string> read_skip_list(const std::string& path) {
  std::map<std::string, std::string> skips;
  std::ifstream in(path);
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
    skips[name] = reason;
  }
  return skips;
}

}  // namespace

int main(int argc, char** argv) {
  std::string skip_path, filter;
  std::vector<fs::path> roots;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--skip-list" && i + 1 < argc) skip_path = argv[++i];
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "-v") verbose = true;
    else roots.emplace_back(a);
  }
  const auto skips = skip_path.empty() ? std::map<std::string, std::string>{} : read_skip_list(skip_path);
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

  int passed = 0, failed = 0, skipped = 0, unexpected_pass = 0;
  std::map<std::string, int> skip_reasons;
  std::vector<std::string> failures;
  const auto start = std::chrono::steady_clock::now();
  for (const fs::path& t : tests) {
    const std::string name = t.filename().string();
    std::string msg;
    const Outcome o = run_isolated(t, &msg, 60);
    auto listed = skips.find(name);
    if (o == Outcome::Pass) {
      ++passed;
      if (listed != skips.end()) {
        ++unexpected_pass;
        std::printf("NOTE %s passes but is in the skip list (%s)\n", name.c_str(), listed->second.c_str());
      }
      if (verbose) std::printf("PASS %s\n", name.c_str());
    } else if (listed != skips.end()) {
      ++skipped;
      ++skip_reasons[listed->second];
      if (verbose) std::printf("SKIP %s: %s\n", name.c_str(), listed->second.c_str());
    } else if (o == Outcome::Unsupported) {
      ++skipped;
      ++skip_reasons[unsupported_reason(msg)];
      if (verbose) std::printf("SKIP %s: %s\n", name.c_str(), unsupported_reason(msg).c_str());
    } else {
      ++failed;
      failures.push_back(name + ": " + msg);
      std::printf("FAIL %s: %s\n", name.c_str(), msg.c_str());
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::pair<int, std::string>> reasons;
  for (const auto& [r, n] : skip_reasons) reasons.emplace_back(n, r);
  std::sort(reasons.rbegin(), reasons.rend());
  std::printf("\nskips by reason:\n");
  for (const auto& [n, r] : reasons) std::printf("  %5d  %s\n", n, r.c_str());
  if (unexpected_pass) std::printf("%d listed tests now pass: remove them from the skip list\n", unexpected_pass);
  std::printf("conformance: %zu tests in %.1f s\n", tests.size(), secs);
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}
