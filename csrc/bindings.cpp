// pybind11 bindings of minigan._C: the C++ CPU kernels. Each function checks its arrays'
// shapes, dtypes and contiguity, raising ValueError/TypeError that names the function,
// then releases the GIL for the computation.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <sstream>
#include <string>

#include "cpu/im2col.h"

namespace py = pybind11;
using minigan::ConvGeometry;

namespace {

std::string shape_of(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

void require(bool ok, const std::string& message) {
  if (!ok) throw py::value_error(message);
}

// Checks shared by im2col and col2im. `image` is the (N, C, H, W) side, `cols` the
// (C*kh*kw, N*Ho*Wo) side, `out` the array written. Returns the geometry.
ConvGeometry checked_geometry(const std::string& fn, const py::array& image,
                              const py::array& cols, const py::array& out, int64_t kh,
                              int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                              int64_t dh, int64_t dw, int64_t ho, int64_t wo) {
  require(image.ndim() == 4,
          fn + ": image must be 4-D (N, C, H, W), got shape " + shape_of(image));
  require(kh > 0 && kw > 0 && sh > 0 && sw > 0 && dh > 0 && dw > 0,
          fn + ": kernel size, stride and dilation must be positive");
  require(ph >= 0 && pw >= 0 && ho >= 0 && wo >= 0,
          fn + ": padding and output size must be non-negative");
  ConvGeometry g{image.shape(0), image.shape(1), image.shape(2), image.shape(3),
                 kh, kw, sh, sw, ph, pw, dh, dw, ho, wo};
  require(cols.ndim() == 2 && cols.shape(0) == g.c * kh * kw && cols.shape(1) == g.n * ho * wo,
          fn + ": cols has shape " + shape_of(cols) + ", expected (" +
              std::to_string(g.c * kh * kw) + ", " + std::to_string(g.n * ho * wo) +
              ") for an image of shape " + shape_of(image));
  require((image.flags() & py::array::c_style) && (cols.flags() & py::array::c_style),
          fn + ": arrays must be C-contiguous");
  require(out.writeable(), fn + ": the output array is read-only");
  if (!image.dtype().is(cols.dtype())) {
    throw py::type_error(fn + ": image and cols need the same dtype");
  }
  return g;
}

bool is_float32(const std::string& fn, const py::array& a) {
  if (a.dtype().is(py::dtype::of<float>())) return true;
  if (a.dtype().is(py::dtype::of<double>())) return false;
  throw py::type_error(fn + ": only float32 and float64 are supported");
}

void im2col(py::array x, py::array cols, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
            int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t ho, int64_t wo) {
  const ConvGeometry g =
      checked_geometry("im2col", x, cols, cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo);
  const bool single = is_float32("im2col", x);
  const void* src = x.data();
  void* dst = cols.mutable_data();
  py::gil_scoped_release release;
  if (single) {
    minigan::im2col(static_cast<const float*>(src), static_cast<float*>(dst), g);
  } else {
    minigan::im2col(static_cast<const double*>(src), static_cast<double*>(dst), g);
  }
}

void col2im(py::array cols, py::array out, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
            int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t ho, int64_t wo) {
  const ConvGeometry g =
      checked_geometry("col2im", out, cols, out, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo);
  const bool single = is_float32("col2im", out);
  const void* src = cols.data();
  void* dst = out.mutable_data();
  py::gil_scoped_release release;
  if (single) {
    minigan::col2im(static_cast<const float*>(src), static_cast<float*>(dst), g);
  } else {
    minigan::col2im(static_cast<const double*>(src), static_cast<double*>(dst), g);
  }
}

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
#ifdef _OPENMP
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
}
