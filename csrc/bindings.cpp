// pybind11 bindings of minigan._C: the C++ CPU kernels, and the CUDA kernels of csrc/cuda
// when CMake found nvcc (MINIGAN_WITH_CUDA).
//
// Arrays arrive through Python's buffer protocol (PEP 3118), not NumPy's C API, so the
// module works with any NumPy release (and any other array that exports a buffer). Each
// function checks shapes, element types and contiguity, raising ValueError/TypeError
// that names the function, then releases the GIL for the computation.
#include <pybind11/pybind11.h>

#include <string>

#include "cpu/im2col.h"
#ifdef MINIGAN_WITH_CUDA
#include <pybind11/stl.h>

#include <vector>

#include "cuda/activation.h"
#include "cuda/adam.h"
#include "cuda/attention.h"
#include "cuda/conv.h"
#include "cuda/normalization.h"
#include "cuda/spectral_norm.h"
#endif

namespace py = pybind11;
using minigan::ConvGeometry;

namespace {

// Plain string building, no iostreams: a module whose iostreams met another C++ runtime
// in the process crashed on first use (seen on one machine).
std::string shape_of(const py::buffer_info& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.shape.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(a.shape[i]);
  }
  return s + (a.shape.size() == 1 ? ",)" : ")");
}

// Raise ValueError(message()) when the check fails; the message is built only then.
template <typename Message>
void require(bool ok, Message message) {
  if (!ok) throw py::value_error(message());
}

bool c_contiguous(const py::buffer_info& a) {
  py::ssize_t expected = a.itemsize;
  for (size_t i = a.shape.size(); i-- > 0;) {
    if (a.shape[i] != 1 && a.strides[i] != expected) return false;
    expected *= a.shape[i];
  }
  return true;
}

enum class Element { float32, float64 };

Element element_of(const std::string& fn, const py::buffer_info& a) {
  if (a.format == py::format_descriptor<float>::format()) return Element::float32;
  if (a.format == py::format_descriptor<double>::format()) return Element::float64;
  throw py::type_error(fn + ": only float32 and float64 are supported, got buffer format '" +
                       a.format + "'");
}

// Checks shared by im2col and col2im. `image` is the (N, C, H, W) side, `cols` the
// (C*kh*kw, N*Ho*Wo) side, `out` the buffer written. Returns the geometry.
ConvGeometry checked_geometry(const std::string& fn, const py::buffer_info& image,
                              const py::buffer_info& cols, const py::buffer_info& out,
                              int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                              int64_t pw, int64_t dh, int64_t dw, int64_t ho, int64_t wo) {
  require(image.ndim == 4,
          [&] { return fn + ": image must be 4-D (N, C, H, W), got shape " + shape_of(image); });
  require(kh > 0 && kw > 0 && sh > 0 && sw > 0 && dh > 0 && dw > 0,
          [&] { return fn + ": kernel size, stride and dilation must be positive"; });
  require(ph >= 0 && pw >= 0 && ho >= 0 && wo >= 0,
          [&] { return fn + ": padding and output size must be non-negative"; });
  ConvGeometry g{image.shape[0], image.shape[1], image.shape[2], image.shape[3],
                 kh, kw, sh, sw, ph, pw, dh, dw, ho, wo};
  require(cols.ndim == 2 && cols.shape[0] == g.c * kh * kw && cols.shape[1] == g.n * ho * wo,
          [&] {
            return fn + ": cols has shape " + shape_of(cols) + ", expected (" +
                   std::to_string(g.c * kh * kw) + ", " + std::to_string(g.n * ho * wo) +
                   ") for an image of shape " + shape_of(image);
          });
  require(c_contiguous(image) && c_contiguous(cols),
          [&] { return fn + ": arrays must be C-contiguous"; });
  require(!out.readonly, [&] { return fn + ": the output array is read-only"; });
  if (element_of(fn, image) != element_of(fn, cols)) {
    throw py::type_error(fn + ": image and cols need the same dtype");
  }
  return g;
}

void im2col(const py::buffer& x, const py::buffer& cols, int64_t kh, int64_t kw, int64_t sh,
            int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t ho,
            int64_t wo) {
  const py::buffer_info src = x.request();
  const py::buffer_info dst = cols.request();
  const ConvGeometry g =
      checked_geometry("im2col", src, dst, dst, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo);
  const bool single = element_of("im2col", src) == Element::float32;
  py::gil_scoped_release release;
  if (single) {
    minigan::im2col(static_cast<const float*>(src.ptr), static_cast<float*>(dst.ptr), g);
  } else {
    minigan::im2col(static_cast<const double*>(src.ptr), static_cast<double*>(dst.ptr), g);
  }
}

void col2im(const py::buffer& cols, const py::buffer& out, int64_t kh, int64_t kw,
            int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw,
            int64_t ho, int64_t wo) {
  const py::buffer_info src = cols.request();
  const py::buffer_info dst = out.request();
  const ConvGeometry g =
      checked_geometry("col2im", dst, src, dst, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo);
  const bool single = element_of("col2im", dst) == Element::float32;
  py::gil_scoped_release release;
  if (single) {
    minigan::col2im(static_cast<const float*>(src.ptr), static_cast<float*>(dst.ptr), g);
  } else {
    minigan::col2im(static_cast<const double*>(src.ptr), static_cast<double*>(dst.ptr), g);
  }
}

#ifdef MINIGAN_WITH_CUDA
// The CUDA functions take CuPy's device pointers and stream handle as Python ints, and the
// element type by name. minigan/cuda_kernels.py checks shapes, dtypes, contiguity and
// devices before it calls them; what is checked here is the dtype name.
template <typename Body>
void by_dtype(const std::string& fn, const std::string& dtype, Body body) {
  if (dtype == "float32") {
    body(float{});
  } else if (dtype == "float64") {
    body(double{});
  } else {
    throw py::type_error(fn + ": the CUDA kernels take float32 or float64, got " + dtype);
  }
}

template <typename T>
T* device(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

// Adam's step for a group of parameters: one pointer per parameter in each list (0 in
// max_exp_avg_sqs without amsgrad), with its size and bias corrections.
void cuda_adam_step(const std::string& dtype, const std::vector<std::uintptr_t>& params,
                    const std::vector<std::uintptr_t>& grads,
                    const std::vector<std::uintptr_t>& exp_avgs,
                    const std::vector<std::uintptr_t>& exp_avg_sqs,
                    const std::vector<std::uintptr_t>& max_exp_avg_sqs,
                    const std::vector<int64_t>& sizes,
                    const std::vector<double>& bias_corrections1,
                    const std::vector<double>& bias_corrections2, double lr, double beta1,
                    double beta2, double eps, double weight_decay,
                    bool decoupled_weight_decay, bool maximize, std::uintptr_t stream) {
  const size_t count = params.size();
  for (size_t n : {grads.size(), exp_avgs.size(), exp_avg_sqs.size(), max_exp_avg_sqs.size(),
                   sizes.size(), bias_corrections1.size(), bias_corrections2.size()}) {
    require(n == count, [&] {
      return "cuda_adam_step: every list needs one entry per parameter (" +
             std::to_string(count) + " params), got one of " + std::to_string(n);
    });
  }
  const minigan::cuda::AdamStep step{lr, beta1, beta2, eps, weight_decay,
                                     decoupled_weight_decay, maximize};
  by_dtype("cuda_adam_step", dtype, [&](auto tag) {
    using T = decltype(tag);
    std::vector<minigan::cuda::AdamTensor<T>> tensors(count);
    for (size_t k = 0; k < count; ++k) {
      tensors[k] = {device<T>(params[k]),     device<const T>(grads[k]),
                    device<T>(exp_avgs[k]),   device<T>(exp_avg_sqs[k]),
                    device<T>(max_exp_avg_sqs[k]), sizes[k],
                    bias_corrections1[k],     bias_corrections2[k]};
    }
    py::gil_scoped_release release;
    minigan::cuda::adam_step(tensors.data(), static_cast<int64_t>(count), step, stream);
  });
}

void cuda_leaky_relu_forward(const std::string& dtype, std::uintptr_t x, std::uintptr_t y,
                             int64_t size, double slope, std::uintptr_t stream) {
  by_dtype("cuda_leaky_relu_forward", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::leaky_relu_forward(device<const T>(x), device<T>(y), size, slope, stream);
  });
}

void cuda_leaky_relu_backward(const std::string& dtype, std::uintptr_t grad_y, std::uintptr_t x,
                              std::uintptr_t grad_x, int64_t size, double slope,
                              std::uintptr_t stream) {
  by_dtype("cuda_leaky_relu_backward", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::leaky_relu_backward(device<const T>(grad_y), device<const T>(x),
                                       device<T>(grad_x), size, slope, stream);
  });
}

void cuda_softplus_forward(const std::string& dtype, std::uintptr_t x, std::uintptr_t y,
                           int64_t size, double beta, std::uintptr_t stream) {
  by_dtype("cuda_softplus_forward", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::softplus_forward(device<const T>(x), device<T>(y), size, beta, stream);
  });
}

void cuda_softplus_backward(const std::string& dtype, std::uintptr_t grad_y, std::uintptr_t x,
                            std::uintptr_t grad_x, int64_t size, double beta,
                            std::uintptr_t stream) {
  by_dtype("cuda_softplus_backward", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::softplus_backward(device<const T>(grad_y), device<const T>(x),
                                     device<T>(grad_x), size, beta, stream);
  });
}

void cuda_normalize_forward(const std::string& dtype, std::uintptr_t x, std::uintptr_t weight,
                            std::uintptr_t bias, std::uintptr_t y, std::uintptr_t mean,
                            std::uintptr_t var, std::uintptr_t invstd, int64_t a, int64_t g,
                            int64_t b, int64_t c, bool per_position, double eps,
                            std::uintptr_t running_mean,
                            std::uintptr_t running_var, double momentum, std::uintptr_t stream) {
  const minigan::cuda::NormSizes sizes{a, g, b, c, per_position};
  by_dtype("cuda_normalize_forward", dtype, [&](auto tag) {
    using T = decltype(tag);
    const minigan::cuda::RunningStats<T> running{device<T>(running_mean), device<T>(running_var),
                                                 momentum};
    py::gil_scoped_release release;
    minigan::cuda::normalize_forward(device<const T>(x), device<const T>(weight),
                                     device<const T>(bias), device<T>(y), device<T>(mean),
                                     device<T>(var), device<T>(invstd), sizes, eps, running,
                                     stream);
  });
}

void cuda_normalize_backward(const std::string& dtype, std::uintptr_t grad_y, std::uintptr_t x,
                             std::uintptr_t weight, std::uintptr_t mean, std::uintptr_t invstd,
                             std::uintptr_t grad_x, std::uintptr_t sum_grad_y,
                             std::uintptr_t sum_grad_y_xhat, int64_t a, int64_t g, int64_t b,
                             int64_t c, bool per_position, bool batch_stats,
                             std::uintptr_t stream) {
  const minigan::cuda::NormSizes sizes{a, g, b, c, per_position};
  by_dtype("cuda_normalize_backward", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::normalize_backward(device<const T>(grad_y), device<const T>(x),
                                      device<const T>(weight), device<const T>(mean),
                                      device<const T>(invstd), device<T>(grad_x),
                                      device<T>(sum_grad_y), device<T>(sum_grad_y_xhat), sizes,
                                      batch_stats, stream);
  });
}

void cuda_power_iteration(const std::string& dtype, std::uintptr_t weight, std::uintptr_t u,
                          std::uintptr_t u_out, std::uintptr_t v, std::uintptr_t sigma,
                          std::uintptr_t workspace, std::uintptr_t counter, int64_t m,
                          int64_t n, int64_t n_iterations, double eps, std::uintptr_t stream) {
  by_dtype("cuda_power_iteration", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::power_iteration(device<const T>(weight), device<const T>(u),
                                   device<T>(u_out), device<T>(v), device<T>(sigma),
                                   device<T>(workspace), device<int>(counter), m, n,
                                   n_iterations, eps, stream);
  });
}

// The 16 sizes of a convolution, in the order of minigan::cuda::ConvSizes: n, c, h, w, o,
// kh, kw, ho, wo, sh, sw, ph, pw, dh, dw, groups.
minigan::cuda::ConvSizes conv_sizes(const std::string& fn, const std::vector<int64_t>& s) {
  require(s.size() == 16, [&] {
    return fn + ": expected 16 sizes (n, c, h, w, o, kh, kw, ho, wo, sh, sw, ph, pw, dh, dw, "
                "groups), got " + std::to_string(s.size());
  });
  return minigan::cuda::ConvSizes{s[0], s[1], s[2],  s[3],  s[4],  s[5],  s[6],  s[7],
                                  s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]};
}

void cuda_conv2d(const std::string& dtype, std::uintptr_t x, std::uintptr_t weight,
                 std::uintptr_t y, const std::vector<int64_t>& sizes, std::uintptr_t stream) {
  const auto geometry = conv_sizes("cuda_conv2d", sizes);
  by_dtype("cuda_conv2d", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::conv2d(device<const T>(x), device<const T>(weight), device<T>(y), geometry,
                          stream);
  });
}

void cuda_conv_transpose2d(const std::string& dtype, std::uintptr_t dy, std::uintptr_t weight,
                           std::uintptr_t dx, const std::vector<int64_t>& sizes,
                           std::uintptr_t stream) {
  const auto geometry = conv_sizes("cuda_conv_transpose2d", sizes);
  by_dtype("cuda_conv_transpose2d", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::conv_transpose2d(device<const T>(dy), device<const T>(weight),
                                    device<T>(dx), geometry, stream);
  });
}

void cuda_conv2d_weight(const std::string& dtype, std::uintptr_t x, std::uintptr_t dy,
                        std::uintptr_t dw, std::uintptr_t workspace,
                        const std::vector<int64_t>& sizes, std::uintptr_t stream) {
  const auto geometry = conv_sizes("cuda_conv2d_weight", sizes);
  by_dtype("cuda_conv2d_weight", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::conv2d_weight(device<const T>(x), device<const T>(dy), device<T>(dw),
                                 device<T>(workspace), geometry, stream);
  });
}

int64_t cuda_conv2d_weight_workspace(const std::vector<int64_t>& sizes) {
  return minigan::cuda::conv2d_weight_workspace_size(
      conv_sizes("cuda_conv2d_weight_workspace", sizes));
}

minigan::cuda::AttentionSizes attention_sizes(int64_t batch, int64_t heads, int64_t nq,
                                              int64_t nk, int64_t d, int64_t dv) {
  return minigan::cuda::AttentionSizes{batch, heads, nq, nk, d, dv};
}

void cuda_attention(const std::string& dtype, std::uintptr_t q, std::uintptr_t k,
                    std::uintptr_t v, std::uintptr_t out, std::uintptr_t lse, int64_t batch,
                    int64_t heads, int64_t nq, int64_t nk, int64_t d, int64_t dv, double scale,
                    std::uintptr_t stream) {
  by_dtype("cuda_attention", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::attention_forward(device<const T>(q), device<const T>(k),
                                     device<const T>(v), device<T>(out), device<T>(lse),
                                     attention_sizes(batch, heads, nq, nk, d, dv), scale,
                                     stream);
  });
}

void cuda_attention_backward(const std::string& dtype, std::uintptr_t q, std::uintptr_t k,
                             std::uintptr_t v, std::uintptr_t out, std::uintptr_t lse,
                             std::uintptr_t grad_out, std::uintptr_t dq, std::uintptr_t dk,
                             std::uintptr_t dv_out, std::uintptr_t delta, int64_t batch,
                             int64_t heads, int64_t nq, int64_t nk, int64_t d, int64_t dv,
                             double scale, std::uintptr_t stream) {
  by_dtype("cuda_attention_backward", dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    minigan::cuda::attention_backward(
        device<const T>(q), device<const T>(k), device<const T>(v), device<const T>(out),
        device<const T>(lse), device<const T>(grad_out), device<T>(dq), device<T>(dk),
        device<T>(dv_out), device<T>(delta), attention_sizes(batch, heads, nq, nk, d, dv),
        scale, stream);
  });
}

py::tuple cuda_attention_tiles(const std::string& dtype, int64_t batch, int64_t heads,
                               int64_t nq, int64_t nk, int64_t d, int64_t dv) {
  minigan::cuda::AttentionTiles tiles{};
  by_dtype("cuda_attention_tiles", dtype, [&](auto tag) {
    using T = decltype(tag);
    tiles = minigan::cuda::attention_tiles<T>(attention_sizes(batch, heads, nq, nk, d, dv));
  });
  return py::make_tuple(tiles.forward, tiles.dkdv, tiles.dq);
}
#endif

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "minigan's C++ kernels: im2col and col2im on the CPU, parallel with OpenMP";
  m.def("im2col", &im2col,
        "Overwrite cols (C*kh*kw, N*Ho*Wo) with the receptive fields of x (N, C, H, W).",
        py::arg("x"), py::arg("cols"), py::arg("kh"), py::arg("kw"), py::arg("sh"),
        py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"),
        py::arg("ho"), py::arg("wo"));
  m.def("col2im", &col2im,
        "Overwrite out (N, C, H, W) with cols (C*kh*kw, N*Ho*Wo) summed back onto pixels.",
        py::arg("cols"), py::arg("out"), py::arg("kh"), py::arg("kw"), py::arg("sh"),
        py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"),
        py::arg("ho"), py::arg("wo"));
#ifdef MINIGAN_WITH_CUDA
  m.attr("cuda") = true;
  m.def("cuda_power_iteration", &cuda_power_iteration,
        "n_iterations launches of the fused power-iteration step (csrc/cuda/spectral_norm.cuh)"
        " on device pointers: weight (m, n), u (m,) -> u_out (m,), v (n,), sigma ().",
        py::arg("dtype"), py::arg("weight"), py::arg("u"), py::arg("u_out"), py::arg("v"),
        py::arg("sigma"), py::arg("workspace"), py::arg("counter"), py::arg("m"),
        py::arg("n"), py::arg("n_iterations"), py::arg("eps"), py::arg("stream"));
  m.def("cuda_adam_step", &cuda_adam_step,
        "One Adam step of a group of parameters (csrc/cuda/adam.cuh), one launch per 32 of "
        "them, in place on device pointers (one per parameter in each list, of sizes[k] "
        "elements): params, exp_avgs, exp_avg_sqs and max_exp_avg_sqs (0: no amsgrad) are "
        "updated, grads are read; each parameter has its own bias corrections.",
        py::arg("dtype"), py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
        py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"), py::arg("sizes"),
        py::arg("bias_corrections1"), py::arg("bias_corrections2"), py::arg("lr"),
        py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
        py::arg("decoupled_weight_decay"), py::arg("maximize"), py::arg("stream"));
  m.def("cuda_leaky_relu_forward", &cuda_leaky_relu_forward,
        "Leaky ReLU in one launch (csrc/cuda/activation.cuh) on device pointers of `size` "
        "elements: x -> y (x where x > 0, else slope x).",
        py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("size"), py::arg("slope"),
        py::arg("stream"));
  m.def("cuda_leaky_relu_backward", &cuda_leaky_relu_backward,
        "Leaky ReLU's gradient in one launch on device pointers of `size` elements: grad_y, "
        "x -> grad_x (grad_y where x > 0, else slope grad_y).",
        py::arg("dtype"), py::arg("grad_y"), py::arg("x"), py::arg("grad_x"), py::arg("size"),
        py::arg("slope"), py::arg("stream"));
  m.def("cuda_softplus_forward", &cuda_softplus_forward,
        "Softplus in one launch (csrc/cuda/activation.cuh) on device pointers of `size` "
        "elements: x -> y = log(1 + e^(beta x)) / beta.",
        py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("size"), py::arg("beta"),
        py::arg("stream"));
  m.def("cuda_softplus_backward", &cuda_softplus_backward,
        "Softplus's gradient in one launch on device pointers of `size` elements: grad_y, x "
        "-> grad_x = grad_y sigmoid(beta x).",
        py::arg("dtype"), py::arg("grad_y"), py::arg("x"), py::arg("grad_x"), py::arg("size"),
        py::arg("beta"), py::arg("stream"));
  m.def("cuda_normalize_forward", &cuda_normalize_forward,
        "Batch, instance or layer norm's forward in one launch "
        "(csrc/cuda/normalization.cuh) on device pointers: x (a, g, b) -> y (a, g, b), mean, "
        "var, invstd (g,); weight, bias (c,) and the running statistics (c,) may be 0 (none).",
        py::arg("dtype"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("y"),
        py::arg("mean"), py::arg("var"), py::arg("invstd"), py::arg("a"), py::arg("g"),
        py::arg("b"), py::arg("c"), py::arg("per_position"), py::arg("eps"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("momentum"),
        py::arg("stream"));
  m.def("cuda_normalize_backward", &cuda_normalize_backward,
        "Batch, instance or layer norm's gradient in one launch "
        "(csrc/cuda/normalization.cuh) on device pointers: grad_y, x (a, g, b), mean, invstd "
        "(g,) -> grad_x (a, g, b; 0: none), the group sums of grad_y and grad_y xhat (g,; "
        "0: none).",
        py::arg("dtype"), py::arg("grad_y"), py::arg("x"), py::arg("weight"), py::arg("mean"),
        py::arg("invstd"), py::arg("grad_x"), py::arg("sum_grad_y"),
        py::arg("sum_grad_y_xhat"), py::arg("a"), py::arg("g"), py::arg("b"), py::arg("c"),
        py::arg("per_position"), py::arg("batch_stats"), py::arg("stream"));
  m.def("cuda_conv2d", &cuda_conv2d,
        "conv2d as an implicit GEMM (csrc/cuda/conv.cuh) on device pointers: x (n, c, h, w), "
        "weight (o, c/groups, kh, kw) -> y (n, o, ho, wo).",
        py::arg("dtype"), py::arg("x"), py::arg("weight"), py::arg("y"), py::arg("sizes"),
        py::arg("stream"));
  m.def("cuda_conv_transpose2d", &cuda_conv_transpose2d,
        "The input gradient of conv2d on device pointers: dy (n, o, ho, wo), weight -> dx "
        "(n, c, h, w).",
        py::arg("dtype"), py::arg("dy"), py::arg("weight"), py::arg("dx"), py::arg("sizes"),
        py::arg("stream"));
  m.def("cuda_conv2d_weight", &cuda_conv2d_weight,
        "The weight gradient of conv2d on device pointers, the pixel sum split over blocks "
        "into the workspace and added in a fixed order: x, dy -> dw (o, c/groups, kh, kw).",
        py::arg("dtype"), py::arg("x"), py::arg("dy"), py::arg("dw"), py::arg("workspace"),
        py::arg("sizes"), py::arg("stream"));
  m.def("cuda_conv2d_weight_workspace", &cuda_conv2d_weight_workspace,
        "Elements of conv2d_weight's workspace for the 16 sizes.", py::arg("sizes"));
  m.def("cuda_attention", &cuda_attention,
        "Fused attention forward (csrc/cuda/attention.cuh) on device pointers: q (B, H, Nq, D),"
        " k (B, H, Nk, D), v (B, H, Nk, Dv) -> out (B, H, Nq, Dv), lse (B, H, Nq).",
        py::arg("dtype"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"),
        py::arg("lse"), py::arg("batch"), py::arg("heads"), py::arg("nq"), py::arg("nk"),
        py::arg("d"), py::arg("dv"), py::arg("scale"), py::arg("stream"));
  m.def("cuda_attention_backward", &cuda_attention_backward,
        "Fused attention backward (a dQ kernel that also writes delta, then a dK/dV kernel) "
        "on device pointers; delta is a (B, H, Nq) workspace.",
        py::arg("dtype"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"),
        py::arg("lse"), py::arg("grad_out"), py::arg("dq"), py::arg("dk"), py::arg("dv_out"),
        py::arg("delta"), py::arg("batch"), py::arg("heads"), py::arg("nq"), py::arg("nk"),
        py::arg("d"), py::arg("dv"), py::arg("scale"), py::arg("stream"));
  m.def("cuda_attention_tiles", &cuda_attention_tiles,
        "(forward, dkdv, dq): the tile (query and key rows) each attention kernel takes on "
        "the current device; 0 where none fits its shared memory.",
        py::arg("dtype"), py::arg("batch"), py::arg("heads"), py::arg("nq"), py::arg("nk"),
        py::arg("d"), py::arg("dv"));
  m.def("cuda_power_iteration_workspace", &minigan::cuda::power_iteration_workspace,
        "Elements of the power iteration's workspace for a weight of shape (m, n).",
        py::arg("m"), py::arg("n"));
#else
  m.attr("cuda") = false;
#endif
  m.attr("cuda_status") = MINIGAN_CUDA_STATUS;
#ifdef _OPENMP
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
}
