// kiln cache ls | stats | rm HASH | purge [--keep N] [--timing] | verify | explain MODEL
#include <cstdio>
#include <ctime>

#include "cache/cache_entry.h"
#include "cli_common.h"
#include "kiln/compile.h"
#include "kiln/error.h"
#include "kiln/model.h"

namespace kiln::cli {

namespace {

std::string format_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&tt));
  return buf;
}

void print_removed_temp_files(const RemovedTempFiles& r) {
  if (r.files)
    std::printf("removed %llu stale temp files (%s) left by killed writers\n", static_cast<unsigned long long>(r.files),
                format_bytes(r.bytes).c_str());
}

}  // namespace

void add_cache_command(CLI::App& app, Command& run) {
  auto* cmd = app.add_subcommand("cache", "Inspect and manage the engine cache");
  cmd->require_subcommand(1);
  cmd->fallthrough();  // kiln cache verify --cache DIR
  auto dir = std::make_shared<std::string>();
  cmd->add_option("--cache", *dir, "Engine cache directory (default: $XDG_CACHE_HOME/kiln or ~/.cache/kiln)");
  auto open = [dir] {
    return std::make_unique<DiskEngineCache>(dir->empty() ? default_cache_dir() : std::filesystem::path(*dir));
  };

  cmd->add_subcommand("ls", "List entries, most recently used first")->callback([&run, open] {
    run = [open] {
      auto cache = open();
      const auto items = cache->list();
      for (const auto& it : items)
        std::printf("%s  %10s  %s\n", it.hash.c_str(), format_bytes(it.size).c_str(), format_time(it.mtime).c_str());
      std::printf("%zu entries in %s\n", items.size(), cache->dir().c_str());
      return 0;
    };
  });

  cmd->add_subcommand("stats", "Entry count, size and limit")->callback([&run, open] {
    run = [open] {
      auto cache = open();
      const EngineCacheStats s = cache->stats();
      // The size is what the limit bounds: entries and temp files together.
      std::printf("dir      %s\nentries  %llu\nsize     %s of %s\ntemp     %llu files, %s", cache->dir().c_str(),
                  static_cast<unsigned long long>(s.entries), format_bytes(s.bytes + s.temp_bytes).c_str(),
                  format_bytes(cache->size_limit()).c_str(), static_cast<unsigned long long>(s.temp_files),
                  format_bytes(s.temp_bytes).c_str());
      std::printf(s.temp_files ? " (saves in progress, or left by killed processes: verify and purge remove\n"
                                 "         those whose writer is gone)\n"
                               : "\n");
      return 0;
    };
  });

  auto* rm = cmd->add_subcommand("rm", "Remove one entry");
  auto hash = std::make_shared<std::string>();
  rm->add_option("hash", *hash, "Entry key (as `kiln cache ls` prints it)")->required();
  rm->callback([&run, open, hash] {
    run = [open, hash] {
      if (!cache::is_valid_cache_key(*hash)) throw Error(ErrorCode::InvalidArgument, "'" + *hash + "' is not a cache key");
      if (!open()->remove(*hash)) throw Error(ErrorCode::InvalidArgument, "no cache entry " + *hash);
      std::printf("removed %s\n", hash->c_str());
      return 0;
    };
  });

  auto* purge = cmd->add_subcommand("purge", "Remove entries, keeping the N most recently used");
  auto keep = std::make_shared<size_t>(0);
  purge->add_option("--keep", *keep, "Entries to keep")->capture_default_str();
  auto timing = std::make_shared<bool>(false);
  purge->add_flag("--timing", *timing,
                  "Also delete the kernel timing cache (timing_cache.json there), e.g. after timing on a busy machine");
  purge->callback([&run, open, keep, timing] {
    run = [open, keep, timing] {
      auto cache = open();
      print_removed_temp_files(cache->remove_stale_temp_files());
      std::printf("removed %zu entries\n", cache->purge(*keep));
      if (*timing) {
        const std::filesystem::path path = cache->dir() / k_timing_cache_file;
        std::error_code ec;
        const bool removed = std::filesystem::remove(path, ec);
        if (ec) throw Error(ErrorCode::IO, "cannot remove " + path.string() + ": " + ec.message());
        std::printf(removed ? "removed timing cache %s\n" : "no timing cache at %s\n", path.c_str());
      }
      return 0;
    };
  });

  auto* verify = cmd->add_subcommand("verify", "Check every entry; remove the damaged ones and stale temp files");
  verify->callback([&run, open] {
    run = [open] {
      auto cache = open();
      print_removed_temp_files(cache->remove_stale_temp_files());
      size_t good = 0, bad = 0;
      for (const auto& it : cache->list()) {
        std::string problem;
        try {
          auto bytes = cache->load(it.hash);
          if (!bytes) {
            problem = "unreadable or malformed";
          } else {
            const CacheEntry e = cache::unpack_entry(*bytes, it.hash);
            Engine::deserialize(e.engine.data(), e.engine.size(), "entry " + it.hash);
          }
        } catch (const Error& err) {
          problem = err.message();
        }
        if (problem.empty()) {
          ++good;
        } else {
          ++bad;
          cache->remove(it.hash);
          std::printf("BAD %s: %s (removed)\n", it.hash.c_str(), problem.c_str());
        }
      }
      std::printf("%zu good, %zu bad\n", good, bad);
      return bad == 0 ? 0 : 1;
    };
  });

  auto* explain = cmd->add_subcommand("explain", "Show what the cache key of a model hashes, field by field");
  struct ExplainArgs {
    std::string model;
    BuildOptions build;
  };
  auto ea = std::make_shared<ExplainArgs>();
  explain->add_option("model", ea->model, "ONNX model file")->required();
  ea->build.add_to(*explain);
  explain->callback([&run, ea, open] {
    run = [ea, open] {
      const Model model = Model::load(ea->model);
      BuildConfig config = ea->build.config();
      std::string key;
      for (const auto& [field, shown] : explain_cache_key(model, config)) {
        if (field == "key") key = shown;
        std::string indented = shown;
        for (size_t p = 0; (p = indented.find('\n', p)) != std::string::npos; p += 1) indented.insert(++p, 12, ' ');
        std::printf("%-10s  %s\n", field.c_str(), indented.c_str());
      }
      auto cache = open();
      bool present = false;
      for (const auto& it : cache->list()) present |= it.hash == key;
      std::printf("%-10s  %s in %s\n", "status", present ? "cached" : "not cached", cache->dir().c_str());
      return 0;
    };
  });
}

}  // namespace kiln::cli
