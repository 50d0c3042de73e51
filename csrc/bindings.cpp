// pybind11 bindings of minigan._C: the C++ CPU kernels.
//
// Arrays arrive through Python's buffer protocol (PEP 3118), not NumPy's C API, so the
// module works with any NumPy release (and any other array that exports a buffer). Each
// function checks shapes, element types and contiguity, raising ValueError/TypeError
// that names the function, then releases the GIL for the computation.
#include <pybind11/pybind11.h>

#include <string>

#include "cpu/im2col.h"

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
