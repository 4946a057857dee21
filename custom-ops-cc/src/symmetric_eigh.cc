// FisheroptSymmetricEigh: the eigendecomposition of a symmetric matrix by LAPACK's divide-and-conquer
// driver (?syevd) from OpenBLAS, with the outputs of TensorFlow's SelfAdjointEigV2 (eigenvalues in
// ascending order, eigenvectors in the columns of v). TensorFlow's own CPU kernel runs Eigen's
// tridiagonal QR, which measured 2.7x slower at 1024x1024 on the project's CPU; FISMO spends most
// of an every-step refresh there (docs/benchmarks.md).
//
// OpenBLAS runs single-threaded here: TensorFlow already runs independent eigendecompositions (one
// per Kronecker factor) side by side on its inter-op pool, and OpenBLAS threads on top of that
// oversubscribe the cores (measured 2.5-15x slower with two threads on two busy cores).

#include <algorithm>
#include <limits>
#include <mutex>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"

#include "tensorflow_names.h"

extern "C" {
// scipy-openblas32 prefixes every symbol with scipy_ so that it never clashes with another BLAS in
// the process (TensorFlow's, a JVM library's).
int scipy_LAPACKE_ssyevd(int layout, char jobz, char uplo, int n, float* a, int lda, float* w);
int scipy_LAPACKE_dsyevd(int layout, char jobz, char uplo, int n, double* a, int lda, double* w);
void scipy_openblas_set_num_threads(int threads);
}

namespace fisheropt {

REGISTER_OP("FisheroptSymmetricEigh")
    .Input("a: T")
    .Output("e: T")
    .Output("v: T")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle a;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &a));
      DimensionHandle n;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, 0), c->Dim(a, 1), &n));
      c->set_output(0, c->Vector(n));
      c->set_output(1, c->Matrix(n, n));
      return Status();
    })
    .Doc(R"doc(
Eigenvalues e (ascending) and orthonormal eigenvectors v (columns) of the symmetric matrix `a`, of
which only the lower triangle is read, by LAPACK's ?syevd. Where LAPACK reports a failure (a NaN or
an infinity in `a`, or no convergence) every output is NaN, so that a caller's finiteness check sees
it instead of the run failing.
)doc");

namespace {

int Syevd(float* a, float* w, int n) {
  return scipy_LAPACKE_ssyevd(/*LAPACK_COL_MAJOR=*/102, 'V', 'L', n, a, n, w);
}

int Syevd(double* a, double* w, int n) {
  return scipy_LAPACKE_dsyevd(/*LAPACK_COL_MAJOR=*/102, 'V', 'L', n, a, n, w);
}

std::once_flag single_threaded;

template <typename T>
class SymmetricEighOp : public OpKernel {
 public:
  explicit SymmetricEighOp(OpKernelConstruction* context) : OpKernel(context) {
    std::call_once(single_threaded, [] { scipy_openblas_set_num_threads(1); });
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& input = context->input(0);
    OP_REQUIRES(context,
                input.dims() == 2 && input.dim_size(0) == input.dim_size(1),
                tensorflow::errors::InvalidArgument("FisheroptSymmetricEigh needs a square matrix, got ",
                                                    input.shape().DebugString()));
    const int64_t n = input.dim_size(0);
    OP_REQUIRES(context, n <= std::numeric_limits<int>::max() / 2,
                tensorflow::errors::InvalidArgument("FisheroptSymmetricEigh: matrix too large"));
    Tensor* e = nullptr;
    Tensor* v = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({n}), &e));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({n, n}), &v));
    if (n == 0) return;
    // Row-major a read as column-major is aᵀ, which is a for a symmetric matrix: the lower triangle
    // LAPACK reads is the input's upper one. The eigenvectors come back in column-major columns,
    // i.e. in the rows of the row-major buffer, and are transposed into v's columns.
    std::vector<T> work(input.flat<T>().data(), input.flat<T>().data() + n * n);
    T* values = e->flat<T>().data();
    const int info = Syevd(work.data(), values, static_cast<int>(n));
    T* vectors = v->flat<T>().data();
    if (info != 0) {
      const T nan = std::numeric_limits<T>::quiet_NaN();
      std::fill(values, values + n, nan);
      std::fill(vectors, vectors + n * n, nan);
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        vectors[i * n + j] = work[j * n + i];
      }
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("FisheroptSymmetricEigh").Device(DEVICE_CPU).TypeConstraint<float>("T"),
                        SymmetricEighOp<float>);
REGISTER_KERNEL_BUILDER(Name("FisheroptSymmetricEigh").Device(DEVICE_CPU).TypeConstraint<double>("T"),
                        SymmetricEighOp<double>);

}  // namespace
}  // namespace fisheropt
