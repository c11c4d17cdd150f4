// Session::run: batch bucketing, the graph-cache path (capture on a miss,
// replay on a hit) and the plain path; and the multi-device safe mode.
#include <algorithm>
#include <atomic>
#include <chrono>

#include "kiln/error.h"
#include "runtime/session_impl.h"

namespace kiln {

std::optional<std::vector<NamedTensor>> Session::Impl::run_graphs(const std::vector<Tensor>& inputs,
                                                                  const RunOptions& run_options,
                                                                  std::chrono::steady_clock::time_point t0) {
  using Clock = std::chrono::steady_clock;
  GraphKey key;
  key.device = backend->device();
  for (const Tensor& t : inputs) {
    key.shapes.push_back(t.shape());
    key.dtypes.push_back(t.dtype());
  }
  std::shared_ptr<runtime::GraphEntry> entry;
  std::string why;
  RunTiming timing;
  switch (graphs->acquire(key, &entry, &why)) {
    case GraphCache::Impl::Lookup::Failed:
      return std::nullopt;
    case GraphCache::Impl::Lookup::Hit: {
      std::lock_guard<std::mutex> lock(entry->run_mutex);
      std::vector<NamedTensor> out = execute(*entry->ctx, inputs, run_options, false, t0, &timing);
      publish(*entry->ctx, false, timing, true, entry->mode);
      return out;
    }
    case GraphCache::Impl::Lookup::Build:
      break;
  }
  // A miss: make the context, run it once (the warm-up: lazy set-up happens
  // here, and this call's outputs come from it), then capture.
  try {
    auto e = std::make_shared<runtime::GraphEntry>();
    e->key = key;
    e->allocator = &backend->allocator();
    e->ctx = make_context(inputs);
    std::vector<NamedTensor> out = execute(*e->ctx, inputs, run_options, false, t0, &timing);
    const auto c0 = Clock::now();
    std::string failure;
    if (!e->ctx->capture(&failure)) {
      graphs->abandon(key, failure);
      publish(*e->ctx, true, timing, true);
      return out;
    }
    e->capture_ms = std::chrono::duration<double, std::milli>(Clock::now() - c0).count();
    e->device_bytes = e->ctx->device_bytes();
    e->mode = e->ctx->capture_mode();
    e->graphs = e->ctx->captured_graphs();
    publish(*e->ctx, true, timing, true, e->mode);
    graphs->insert(std::move(e));
    return out;
  } catch (const std::exception& ex) {
    graphs->abandon(key, ex.what());
    throw;
  }
}


namespace {
std::atomic<bool> g_multi_device_safe{false};
}  // namespace

void set_multi_device_safe_mode(bool enabled) { g_multi_device_safe = enabled; }
bool multi_device_safe_mode() { return g_multi_device_safe; }

namespace {

// The smallest bucket that holds `batch`, or `batch` itself past the largest.
int64_t bucket_for(std::vector<int64_t> buckets, int64_t batch) {
  std::sort(buckets.begin(), buckets.end());
  for (int64_t b : buckets)
    if (b >= batch) return b;
  return batch;
}

// `t` with dim 0 grown to `rows`, the new rows zero (host or device memory).
Tensor pad_rows(const Tensor& t, int64_t rows, backend::Backend& be, backend::Stream& stream) {
  Shape s = t.shape();
  s[0] = rows;
  Tensor out = t.on_host() ? Tensor::empty(t.dtype(), s) : be.empty(t.dtype(), s);
  if (!t.on_host()) {
    Tensor zeros = Tensor::empty(t.dtype(), s);
    be.copy(out.raw(), out.device(), zeros.raw(), zeros.device(), out.nbytes(), stream);
  }
  be.copy(out.raw(), out.device(), t.raw(), t.device(), t.nbytes(), stream);
  stream.synchronize();
  return out;
}

}  // namespace

std::vector<NamedTensor> Session::run(const std::map<std::string, Tensor>& inputs, const RunOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Impl& im = *m_impl;
  std::vector<Tensor> bound = im.bind(inputs);
  // Batch bucketing: pad dim 0 up to a bucket, cut the outputs back after.
  int64_t batch = -1;
  if (!im.options.batch_buckets.empty() && !bound.empty() && bound[0].rank() > 0) {
    batch = bound[0].shape()[0];
    const int64_t padded = bucket_for(im.options.batch_buckets, batch);
    for (const Tensor& t : bound)
      if (t.rank() == 0 || t.shape()[0] != batch)
        throw Error(ErrorCode::InvalidArgument, "batch bucketing needs every input's first dim to be the batch (" +
                                                    std::to_string(batch) + ")");
    if (padded != batch) {
      auto stream = im.backend->create_stream();
      for (Tensor& t : bound) t = pad_rows(t, padded, *im.backend, *stream);
    } else {
      batch = -1;
    }
  }
  std::vector<NamedTensor> out;
  bool done = false;
  if (im.graphs && cuda_graphs_mode() && !options.disable_cuda_graphs) {
    im.graphs->bind(im.engine.data());
    if (auto r = im.run_graphs(bound, options, t0)) {
      out = std::move(*r);
      done = true;
    }
  }
  if (!done) {
    std::lock_guard<std::mutex> lock(im.run_mutex);
    bool made = false;
    runtime::ExecutionContext& ctx = im.context_for(bound, &made);
    RunTiming timing;
    out = im.execute(ctx, bound, options, true, t0, &timing);
    im.publish(ctx, made, timing, false);
  }
  if (batch >= 0) {
    for (NamedTensor& o : out) {
      Tensor& t = o.tensor;
      if (t.rank() == 0 || t.shape()[0] != bound[0].shape()[0])
        throw Error(ErrorCode::InvalidArgument, "batch bucketing needs every output's first dim to be the batch; '" +
                                                    o.name + "' is " + shape_str(t.shape()));
      Shape s = t.shape();
      s[0] = batch;
      t = Tensor::wrap(t.raw(), t.dtype(), s, t.device(), std::make_shared<Tensor>(t));  // a view of the first rows
    }
  }
  return out;
}

}  // namespace kiln
