// The CUDA detection family: Resize/Upsample (resize.cu), GridSample
// (grid_sample.cu), RoiAlign (roi_align.cu) and NonMaxSuppression (nms.cu),
// each mirroring its CPU kernel in backends/cpu/kernels/.
#include "backends/cuda/kernels/detection_common.cuh"
#include "backends/cuda/kernels/families.h"

namespace kiln::backend::cuda {

void register_cuda_detection(KernelRegistry& r) {
  register_cuda_detection_resize(r);
  register_cuda_detection_grid_sample(r);
  register_cuda_detection_roi_align(r);
  register_cuda_detection_nms(r);
}

}  // namespace kiln::backend::cuda
