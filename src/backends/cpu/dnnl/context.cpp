#include "backends/cpu/dnnl/context.h"

#include <atomic>

#include "kiln/error.h"

namespace kiln::backend::onednn {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  std::string runtime = v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp"
                        : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb"
                        : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "seq"
                                                             : "other";
  return "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         " (" + runtime + ")";
}

dnnl::memory::dims to_dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

dnnl::memory::format_tag plain_tag(size_t rank) {
  using tag = dnnl::memory::format_tag;
  switch (rank) {
    case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    case 6: return tag::abcdef;
    default: throw Error(ErrorCode::Internal, "oneDNN: no plain format for rank " + std::to_string(rank));
  }
}

dnnl::memory::desc plain_f32(const Shape& s) {
  return dnnl::memory::desc(to_dims(s), dnnl::memory::data_type::f32, plain_tag(s.size()));
}

dnnl::memory::desc layout_f32(const Shape& s, int layout) {
  using tag = dnnl::memory::format_tag;
  if (layout == 0) return plain_f32(s);
  switch (s.size()) {
    case 3: return dnnl::memory::desc(to_dims(s), dnnl::memory::data_type::f32, tag::acb);
    case 4: return dnnl::memory::desc(to_dims(s), dnnl::memory::data_type::f32, tag::acdb);
    case 5: return dnnl::memory::desc(to_dims(s), dnnl::memory::data_type::f32, tag::acdeb);
    default: throw Error(ErrorCode::Internal, "oneDNN: no channels-last layout for rank " + std::to_string(s.size()));
  }
}

dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t) {
  return dnnl::memory(md, cpu_engine(), const_cast<void*>(t.raw()));
}

}  // namespace kiln::backend::onednn

namespace kiln::backend::onednn {

dnnl::reorder make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  return dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), to));
}

}  // namespace kiln::backend::onednn

namespace kiln::backend::onednn {

namespace {
std::atomic<uint64_t> g_primitive_runs{0};
}

uint64_t primitive_runs() { return g_primitive_runs.load(std::memory_order_relaxed); }
void count_primitive_run() { g_primitive_runs.fetch_add(1, std::memory_order_relaxed); }

}  // namespace kiln::backend::onednn
