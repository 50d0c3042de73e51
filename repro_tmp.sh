export PYTHONUNBUFFERED=1
python3 -c "import pybind11, numpy; print('pybind11', pybind11.__version__, 'numpy', numpy.__version__)"
cat > /tmp/t.cpp <<'CPP'
#include "cpu/im2col.h"
#include <vector>
#include <cstdio>
int main() {
  minigan::ConvGeometry g{8, 3, 16, 16, 4, 4, 2, 2, 1, 1, 1, 1, 8, 8};
  std::vector<double> x(8 * 3 * 16 * 16, 1.0), cols(3 * 16 * 8 * 64), back(x.size());
  minigan::im2col(x.data(), cols.data(), g);
  minigan::col2im(cols.data(), back.data(), g);
  double s = 0; for (double v : cols) s += v;
  std::printf("standalone ok, sum %.1f\n", s);
}
CPP
g++ -O3 -march=native -fopenmp -Icsrc /tmp/t.cpp csrc/cpu/im2col.cpp -o /tmp/t && /tmp/t
python3 -m pip install -q --no-build-isolation --no-deps -e . > /dev/null 2>&1
python3 -X faulthandler -c "
import numpy as np
import minigan._C as C
print('module', C.__file__)
x = np.ones((8, 3, 16, 16)); cols = np.empty((48, 512))
C.im2col(x, cols, 4, 4, 2, 2, 1, 1, 1, 1, 8, 8)
print('direct call ok', cols.sum())
" 2>&1 | grep -vE "^  File \"<frozen|Extension modules" | head -8
