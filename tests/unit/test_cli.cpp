// The kiln CLI as users run it: exit codes and one clear line on error.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <array>
#include <cstdio>
#include <cstdlib>

#include "core/npy.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

struct Result {
  int code;
  std::string out;
};

Result run_cli(const std::string& args) {
  const char* cli = std::getenv("KILN_CLI");
  if (!cli) throw std::runtime_error("KILN_CLI is not set (run through ctest)");
  const std::string cmd = std::string(cli) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

std::string add_model(TempDir& dir) {
  ModelBuilder mb(13);
  mb.input("a", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{2}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{2}});
  mb.init_floats("b", {2}, {10, 20});
  mb.node("Add", {"a", "b"}, {"y"}, "add");
  return dir.write("add.onnx", mb.bytes());
}

TEST(Cli, HelpForEveryCommand) {
  for (const char* c : {"", "info", "build", "run", "bench", "cache"}) {
    Result r = run_cli(std::string(c) + " --help");
    EXPECT_EQ(r.code, 0) << c << ": " << r.out;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
}

TEST(Cli, InfoBuildRun) {
  TempDir dir;
  const std::string model = add_model(dir);
  Result info = run_cli("info " + model);
  EXPECT_EQ(info.code, 0) << info.out;
  EXPECT_NE(info.out.find("Add"), std::string::npos);
  EXPECT_NE(info.out.find("every node runs on cpu"), std::string::npos);

  Result build = run_cli("build " + model + " -o " + dir.file("add.kiln") + " --cache " + dir.file("cache"));
  EXPECT_EQ(build.code, 0) << build.out;

  Tensor a = Tensor::from_vector<float>(DataType::Float32, {2, 2}, {1, 2, 3, 4});
  write_npy(dir.file("a.npy"), a);
  Result run = run_cli("run " + dir.file("add.kiln") + " --input a=" + dir.file("a.npy") + " --output-dir " +
                       dir.file("out") + " -n 2");
  EXPECT_EQ(run.code, 0) << run.out;
  Tensor y = read_npy(dir.file("out/y.npy"));
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 4), (std::vector<float>{11, 22, 13, 24}));

  // A model run twice with one cache: built, then loaded.
  const std::string cache = " --cache " + dir.file("cache2");
  Result first = run_cli("run " + model + cache + " -n 0");
  Result second = run_cli("run " + model + cache + " -n 0");
  EXPECT_NE(first.out.find("engine built"), std::string::npos) << first.out;
  EXPECT_NE(second.out.find("loaded from cache"), std::string::npos) << second.out;

  // bench: percentiles, and with --profile where the time went.
  Result bench = run_cli("bench " + model + cache + " --batch 2 -n 3 --warmup 1 --profile");
  EXPECT_EQ(bench.code, 0) << bench.out;
  for (const char* s : {"batch 2", "p50", "op type", "Add", "slowest nodes:", "add "})
    EXPECT_NE(bench.out.find(s), std::string::npos) << s << "\n" << bench.out;
  Result json = run_cli("bench " + model + cache + " --batch 2 -n 3 --json --profile");
  EXPECT_EQ(json.code, 0) << json.out;
  for (const char* s : {"\"p99_ms\"", "\"by_op\"", "\"nodes\"", "\"node\": \"add\""})
    EXPECT_NE(json.out.find(s), std::string::npos) << s << "\n" << json.out;
}

TEST(Cli, CacheCommands) {
  TempDir dir;
  const std::string model = add_model(dir);
  const std::string cache = " --cache " + dir.file("c");
  ASSERT_EQ(run_cli("build " + model + " -o " + dir.file("e.kiln") + cache).code, 0);
  Result ls = run_cli("cache" + cache + " ls");
  EXPECT_EQ(ls.code, 0) << ls.out;
  EXPECT_NE(ls.out.find("1 entries"), std::string::npos) << ls.out;
  const std::string key = ls.out.substr(0, 64);
  Result explain = run_cli("cache" + cache + " explain " + model);
  EXPECT_EQ(explain.code, 0) << explain.out;
  for (const char* field : {"format", "env", "graph", "weights", "inputs", "config", "key"})
    EXPECT_NE(explain.out.find(field), std::string::npos) << explain.out;
  EXPECT_NE(explain.out.find(key), std::string::npos) << "explain's key differs from the stored one\n" << explain.out;
  EXPECT_NE(explain.out.find("status      cached"), std::string::npos) << explain.out;
  EXPECT_EQ(run_cli("cache" + cache + " verify").code, 0);
  EXPECT_NE(run_cli("cache" + cache + " stats").out.find("entries  1"), std::string::npos);
  EXPECT_EQ(run_cli("cache" + cache + " rm " + key).code, 0);
  EXPECT_EQ(run_cli("cache" + cache + " rm " + key).code, 1);  // gone
  ASSERT_EQ(run_cli("build " + model + " -o " + dir.file("e.kiln") + cache).code, 0);
  EXPECT_NE(run_cli("cache" + cache + " purge").out.find("removed 1"), std::string::npos);
  // purge --timing also forgets kernel timings (the build above recorded some).
  const std::filesystem::path timing = std::filesystem::path(dir.file("c")) / "timing_cache.json";
  ASSERT_TRUE(std::filesystem::exists(timing));
  EXPECT_NE(run_cli("cache" + cache + " purge --timing").out.find("removed timing cache"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(timing));
  EXPECT_NE(run_cli("cache" + cache + " purge --timing").out.find("no timing cache"), std::string::npos);
}

// A writer killed mid-save leaves <key>/.kiln-tmp-blob.bin-<pid>-<n>-<rand>:
// stats counts it, verify and purge remove it once its writer is gone.
TEST(Cli, CacheToolsSeeAndRemoveTempFilesOfKilledWriters) {
  TempDir dir;
  const std::string model = add_model(dir);
  const std::string cache = " --cache " + dir.file("c");
  ASSERT_EQ(run_cli("build " + model + " -o " + dir.file("e.kiln") + cache).code, 0);
  const std::string key = run_cli("cache" + cache + " ls").out.substr(0, 64);
  const pid_t gone = ::fork();  // a PID that no longer exists
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  const auto plant = [&](const std::string& entry) {
    const std::string path = dir.file("c/" + entry + "/.kiln-tmp-blob.bin-" + std::to_string(gone) + "-0-7");
    std::filesystem::create_directories(dir.file("c/" + entry));
    std::ofstream(path) << std::string(3000, 'x');
    const struct timespec old[2] = {{::time(nullptr) - 60, 0}, {::time(nullptr) - 60, 0}};
    ::utimensat(AT_FDCWD, path.c_str(), old, 0);
    return path;
  };
  std::string temp = plant(key);
  Result stats = run_cli("cache" + cache + " stats");
  EXPECT_NE(stats.out.find("temp     1 files, 2.9 KiB"), std::string::npos) << stats.out;
  Result verify = run_cli("cache" + cache + " verify");
  EXPECT_EQ(verify.code, 0) << verify.out;
  EXPECT_NE(verify.out.find("removed 1 stale temp files (2.9 KiB)"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("1 good"), std::string::npos) << verify.out;
  EXPECT_FALSE(std::filesystem::exists(temp));
  temp = plant(std::string(64, 'f'));  // an entry whose only file is the temp file
  Result purge = run_cli("cache" + cache + " purge --keep 1");
  EXPECT_NE(purge.out.find("removed 1 stale temp files"), std::string::npos) << purge.out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("c/" + std::string(64, 'f'))));
  EXPECT_NE(run_cli("cache" + cache + " stats").out.find("temp     0 files"), std::string::npos);
}

TEST(Cli, ErrorsAreOneLineAndNonZero) {
  TempDir dir;
  const std::string model = add_model(dir);
  const std::string a = dir.file("a.npy"), b = dir.file("b.npy");
  write_npy(a, Tensor::from_vector<float>(DataType::Float32, {2, 2}, {1, 2, 3, 4}));
  write_npy(b, Tensor::from_vector<float>(DataType::Float32, {2, 2}, {5, 6, 7, 8}));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"info " + dir.file("missing.onnx"), "missing.onnx"},
      {"info " + dir.path(), "directory"},
      {"run " + model + " --no-cache --input a=" + dir.file("nope.npy"), "nope.npy"},
      {"run " + model + " --no-cache --input bogus", "NAME=FILE.npy"},
      // The same name twice was last-one-wins.
      {"run " + model + " --no-cache -i a=" + a + " --input a=" + b, "'a' given twice"},
      {"run " + model + " --no-cache --shape a=2x2 --shape a=4x2", "--shape 'a' given twice"},
      {"run " + model + " --no-cache --shape a=2xq", "--shape"},
  };
  for (const auto& [args, needle] : cases) {
    Result r = run_cli(args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("kiln: error:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  }
  // Usage errors: kiln's one line and exit 1 as well, not a help page.
  for (const std::string& args : std::vector<std::string>{"build " + model, "frobnicate", "run " + model + " --bogus-option",
                                  "bench " + model + " --batch x"}) {
    Result r = run_cli(args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("kiln: error: [invalid argument]"), std::string::npos) << args << "\n" << r.out;
    EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 1) << args << "\n" << r.out;
  }
  // A device this kiln or machine cannot serve is a clear error.
  Result r = run_cli("run " + model + " --no-cache --device tpu:0");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("device 'tpu:0'"), std::string::npos) << r.out;
}

// --cuda-graphs and KILN_AUTO_CUDA_GRAPHS put a graph cache under run/bench
// (on the CPU its entries are the prepared plans: mode "none").
TEST(Cli, CudaGraphsOption) {
  TempDir dir;
  const std::string model = add_model(dir);
  const std::string cache = " --cache " + dir.file("c");
  Result bench = run_cli("bench " + model + cache + " --batch 2 -n 3 --warmup 1 --cuda-graphs=2");
  EXPECT_EQ(bench.code, 0) << bench.out;
  EXPECT_NE(bench.out.find("cuda graphs: none"), std::string::npos) << bench.out;
  EXPECT_NE(run_cli("bench " + model + cache + " --batch 2 -n 3 --cuda-graphs=zero").out.find("--cuda-graphs 'zero'"),
            std::string::npos);
  Result run = run_cli("run " + model + cache + " -n 2 --cuda-graphs");
  EXPECT_NE(run.out.find("cuda graphs: none, 1 captures"), std::string::npos) << run.out;
}

// Options of `kiln cache` are accepted after its subcommand too.
TEST(Cli, CacheOptionsAfterTheSubcommand) {
  TempDir dir;
  const std::string model = add_model(dir);
  ASSERT_EQ(run_cli("build " + model + " -o " + dir.file("e.kiln") + " --cache " + dir.file("c")).code, 0);
  Result r = run_cli("cache verify --cache " + dir.file("c"));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("1 good"), std::string::npos) << r.out;
  EXPECT_NE(run_cli("cache ls --cache " + dir.file("c")).out.find("1 entries"), std::string::npos);
}

}  // namespace
}  // namespace kiln::test
