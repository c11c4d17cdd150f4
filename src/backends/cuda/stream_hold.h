// A one-thread kernel that holds a stream until the host lets it go.
//
// Device events around work the host is still submitting time the host too:
// the first event completes at once, then the device idles while the host
// issues each launch (a cuDNN plan's execute costs microseconds of host
// time). At batch 1 that host time is most of what the builder measured, and
// it varies from run to run; in a CUDA graph's replay it is gone. So the
// builder's timing (CudaBackend::time_ms) queues the work behind a hold and
// releases it once everything is submitted: the events then time the
// device's work back to back, as a replay runs it.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace kiln::backend::cuda {

// Launches on `stream` a kernel that returns once the host has written
// `ticket` or a later one to `*flag` (page-locked host memory, which the
// device reads at the host's address), or after `timeout_ns` of waiting, so
// that work which synchronizes the host on the stream cannot deadlock
// behind it.
void launch_stream_hold(cudaStream_t stream, const volatile uint32_t* flag, uint32_t ticket, uint64_t timeout_ns);

}  // namespace kiln::backend::cuda
