// kiln predict PACKAGE IMAGE... [--json] [--draw OUT.png]
// Loads a model package (engines built once, then from the cache), predicts
// on the images as one batch and prints the results with the time each step
// took.
#ifdef KILN_WITH_MODELS

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli_common.h"
#include "kiln/error.h"
#include "kiln/models.h"

namespace kiln::cli {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// OUT.png for one image; OUT-1.png, OUT-2.png, ... for several.
std::string draw_path(const std::string& out, size_t i, size_t n) {
  if (n == 1) return out;
  std::filesystem::path p(out);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(i + 1) + p.extension().string())).string();
}

void print_text(const models::Prediction& p, const std::string& source) {
  std::printf("%s (%dx%d):", source.c_str(), p.width, p.height);
  switch (p.task) {
    case models::Task::Classification:
      std::printf("\n");
      for (const auto& c : p.classes)
        std::printf("  %6.4f  %4d %s\n", c.score, c.class_id, c.label.c_str());
      break;
    case models::Task::SemanticSegmentation: {
      std::map<int, size_t> counts;
      for (int32_t c : p.class_map.classes) ++counts[c];
      std::printf(" class map %dx%d\n", p.class_map.width, p.class_map.height);
      for (const auto& [c, n] : counts)
        std::printf("  class %3d  %5.1f%% of the pixels\n", c, 100.0 * n / std::max<size_t>(p.class_map.classes.size(), 1));
      break;
    }
    case models::Task::TextRecognition:
      std::printf(" %zu line(s)\n", p.lines.size());
      for (const auto& l : p.lines)
        std::printf("  %5.3f  \"%s\"%s  at (%.0f,%.0f)-(%.0f,%.0f)\n", l.score, l.text.c_str(), l.rotated ? " (turned 180)" : "",
                    l.box[0].x, l.box[0].y, l.box[2].x, l.box[2].y);
      break;
    default:
      std::printf(" %zu detection(s)\n", p.detections.size());
      for (size_t i = 0; i < p.detections.size() && i < 20; ++i) {
        const auto& d = p.detections[i];
        std::printf("  %5.3f  %-14s box (%.1f, %.1f, %.1f, %.1f)%s%s\n", d.score,
                    (d.label.empty() ? std::to_string(d.class_id) : d.label).c_str(), d.box.x1, d.box.y1, d.box.x2,
                    d.box.y2, d.mask.empty() ? "" : " mask", d.keypoints.empty() ? "" : " keypoints");
      }
      if (p.detections.size() > 20) std::printf("  ... %zu more (--json lists all)\n", p.detections.size() - 20);
  }
}

}  // namespace

void add_predict_command(CLI::App& app, Command& run) {
  auto* cmd = app.add_subcommand("predict", "Predict on images with a model package (classes, boxes, masks, text)");
  struct Args {
    std::string package, draw;
    std::vector<std::string> images;
    bool json = false;
    int iterations = 0, top_k = 0;
    float min_score = -1;
    BuildOptions build;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("package", args->package, "Model package: a folder with kiln_model.json")->required();
  cmd->add_option("images", args->images, "Images (PNG, JPEG, ...), predicted as one batch")->required();
  cmd->add_flag("--json", args->json, "One JSON object per image on stdout");
  cmd->add_option("--draw", args->draw, "Write the image with the prediction drawn on it (OUT-1.png, ... for several)");
  cmd->add_option("--top-k", args->top_k, "Classification: classes listed (default: the package's)")->check(CLI::Range(1, 100000));
  cmd->add_option("--min-score", args->min_score, "Detections and text lines from this score (default: the package's)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("-n,--iterations", args->iterations, "Timed predictions after the first")->capture_default_str()
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--device", args->build.device, "Device: auto (the GPU when there is one), cpu, cuda, cuda:N")
      ->capture_default_str();
  cmd->add_option("--cache", args->build.cache_dir, "Engine cache directory (default: $XDG_CACHE_HOME/kiln or ~/.cache/kiln)");
  cmd->add_flag("--no-cache", args->build.no_cache, "Neither read nor write the engine cache");
  cmd->add_option("--threads", args->build.threads, "CPU kernel threads (0: all cores)")->check(CLI::Range(0, 4096));
  cmd->callback([&run, args] {
    run = [args] {
      const bool quiet = args->json;
      auto caches = args->build.open_cache();
      const BuildConfig config = args->build.config();
      models::LoadOptions lo;
      lo.device = args->build.resolved_device();
      lo.cache = caches.get();
      lo.no_cache = args->build.no_cache;
      lo.threads = args->build.threads;
      lo.timing_cache = config.timing_cache;
      if (!quiet) lo.on_progress = config.on_progress;
      const models::TaskModel model = models::load(args->package, lo);
      args->build.save_timing_cache();
      if (!quiet) {
        size_t hits = 0;
        for (const auto& [role, hit] : model.cache_hits()) hits += hit;
        std::printf("%s (%s): %zu network(s), %zu from cache %s, ready in %.1f ms\n", model.name().c_str(),
                    std::string(models::task_name(model.task())).c_str(), model.cache_hits().size(), hits,
                    caches.where().c_str(), model.load_seconds() * 1e3);
      }
      auto t0 = Clock::now();
      std::vector<models::Image> images;
      for (const auto& path : args->images) images.push_back(models::read_image(path));
      const double read_ms = ms_since(t0);
      models::PredictOptions po;
      po.top_k = args->top_k;
      po.min_score = args->min_score;
      std::vector<models::Prediction> preds;
      double pre = 0, fwd = 0, post = 0;
      for (int it = 0; it <= args->iterations; ++it) {
        // The first prediction of a new input size plans it; the rest time the steady state.
        auto t = Clock::now();
        const models::PreProcessed batch = model.pre_process(images);
        const double a = ms_since(t);
        t = Clock::now();
        const models::RawOutputs raw = model.forward(batch, po.run);
        const double b = ms_since(t);
        t = Clock::now();
        preds = model.post_process(batch, raw, po);
        const double c = ms_since(t);
        if (it == 0 && !quiet)
          std::printf("first prediction: %.1f ms (read %.1f, pre-process %.1f, forward %.1f, post-process %.1f)\n",
                      read_ms + a + b + c, read_ms, a, b, c);
        if (it > 0) { pre += a; fwd += b; post += c; }
      }
      if (args->iterations > 0 && !quiet) {
        const double n = args->iterations;
        std::printf("%d more: mean %.1f ms (pre-process %.1f, forward %.1f, post-process %.1f)\n", args->iterations,
                    (pre + fwd + post) / n, pre / n, fwd / n, post / n);
      }
      for (size_t i = 0; i < preds.size(); ++i) {
        if (args->json)
          std::printf("%s\n", models::to_json(preds[i], args->images[i]).c_str());
        else
          print_text(preds[i], args->images[i]);
        if (!args->draw.empty()) {
          const std::string out = draw_path(args->draw, i, preds.size());
          models::write_image(out, models::draw(images[i], preds[i]));
          if (!quiet) std::printf("  drawn to %s\n", out.c_str());
        }
      }
      return 0;
    };
  });
}

}  // namespace kiln::cli

#endif  // KILN_WITH_MODELS
