// FisheroptFusedPolar: every Newton–Schulz step of the polar factor of a matrix (or of each matrix
// in a batch) in one kernel, with the arithmetic of dev.fisheropt.ops.NewtonSchulz.polar:
//   X = M / (‖M‖_F + 1e-7), on the wide orientation (transposed when rows > cols);
//   repeated `steps` times: A = X Xᵀ, B = b·A + c·A·A, X = a·X + B·X;  transposed back.
// As graph ops each step is five kernels inside a StatelessWhile (plus the loop's own ops); here the
// loop, the scaling and the transposes share one kernel and reuse four scratch buffers.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#define EIGEN_USE_THREADS

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/util/work_sharder.h"
#include "unsupported/Eigen/CXX11/Tensor"

#include "tensorflow_names.h"

namespace fisheropt {

REGISTER_OP("FisheroptFusedPolar")
    .Input("m: T")
    .Output("x: T")
    .Attr("T: {float, double}")
    .Attr("steps: int >= 1")
    .Attr("a: tensor")
    .Attr("b: tensor")
    .Attr("c: tensor")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle m;
      TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(0), 2, &m));
      c->set_output(0, m);
      return Status();
    })
    .Doc(R"doc(
Approximate polar factor of each matrix in the innermost two dimensions of `m` by `steps`
Newton–Schulz iterations X <- a·X + (b·XXᵀ + c·(XXᵀ)²)·X, started from m/(‖m‖_F + 1e-7) and run on
the wide orientation. `a`, `b`, `c` are float64 scalars (kept in double so that a float64 run sees
the coefficients themselves); float32 inputs use their nearest floats. A matrix with a NaN or an
infinity gives a matrix of NaNs of the same shape; other matrices of the batch are unaffected.
)doc");

namespace {

constexpr double kNormEpsilon = 1e-7;

using Pair = Eigen::IndexPair<Eigen::Index>;
// Contract the columns of the left operand with the rows of the right one (A·B) ...
const Eigen::array<Pair, 1> kProduct = {Pair(1, 0)};
// ... or with the columns of the right one (A·Bᵀ).
const Eigen::array<Pair, 1> kProductTransposeB = {Pair(1, 1)};

template <typename T>
using Matrix = Eigen::TensorMap<Eigen::Tensor<T, 2, Eigen::RowMajor, Eigen::Index>>;
template <typename T>
using ConstMatrix = Eigen::TensorMap<Eigen::Tensor<const T, 2, Eigen::RowMajor, Eigen::Index>>;

Status ScalarDoubleAttr(OpKernelConstruction* ctx, const char* name, double* out) {
  Tensor t;
  TF_RETURN_IF_ERROR(ctx->GetAttr(name, &t));
  if (t.dtype() != tensorflow::DT_DOUBLE || t.NumElements() != 1) {
    return tensorflow::errors::InvalidArgument("FisheroptFusedPolar: attribute '", name,
                                               "' must be a float64 scalar, got ",
                                               tensorflow::DataTypeString(t.dtype()), " of shape ",
                                               t.shape().DebugString());
  }
  *out = t.flat<double>()(0);
  if (!std::isfinite(*out)) {
    return tensorflow::errors::InvalidArgument("FisheroptFusedPolar: attribute '", name,
                                               "' must be finite, got ", *out);
  }
  return Status();
}

// Scratch space for one matrix in its wide orientation: rows r <= cols n.
template <typename T>
struct Workspace {
  T* x;     // r×n, the iterate
  T* next;  // r×n
  T* gram;  // r×r, A = XXᵀ, reused for B
  T* sq;    // r×r, A·A
};

template <typename T, typename Device>
void PolarOfOne(const Device& d, const T* in, T* out, Eigen::Index rows, Eigen::Index cols, int steps,
                T a, T b, T c, const Workspace<T>& ws) {
  const Eigen::Index size = rows * cols;
  for (Eigen::Index i = 0; i < size; ++i) {
    if (!std::isfinite(in[i])) {
      std::fill(out, out + size, std::numeric_limits<T>::quiet_NaN());
      return;
    }
  }
  const bool tall = rows > cols;
  const Eigen::Index r = tall ? cols : rows;
  const Eigen::Index n = tall ? rows : cols;
  ConstMatrix<T> m(in, rows, cols);
  Eigen::Tensor<T, 0, Eigen::RowMajor, Eigen::Index> sum_sq;
  sum_sq.device(d) = m.square().sum();
  const T denominator = std::sqrt(sum_sq()) + static_cast<T>(kNormEpsilon);

  T* current = ws.x;
  T* spare = ws.next;
  Matrix<T> gram(ws.gram, r, r);
  Matrix<T> sq(ws.sq, r, r);
  {
    Matrix<T> x(current, r, n);
    if (tall) {
      const Eigen::array<int, 2> swap = {1, 0};
      x.device(d) = m.shuffle(swap) / m.shuffle(swap).constant(denominator);
    } else {
      x.device(d) = m / m.constant(denominator);
    }
  }
  for (int step = 0; step < steps; ++step) {
    Matrix<T> x(current, r, n);
    Matrix<T> next(spare, r, n);
    gram.device(d) = x.contract(x, kProductTransposeB);
    sq.device(d) = gram.contract(gram, kProduct);
    gram.device(d) = gram * gram.constant(b) + sq * sq.constant(c);
    next.device(d) = x * x.constant(a) + gram.contract(x, kProduct);
    std::swap(current, spare);
  }
  Matrix<T> x(current, r, n);
  Matrix<T> result(out, rows, cols);
  if (tall) {
    const Eigen::array<int, 2> swap = {1, 0};
    result.device(d) = x.shuffle(swap);
  } else {
    result.device(d) = x;
  }
}

template <typename T>
class FusedPolarOp : public OpKernel {
 public:
  explicit FusedPolarOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("steps", &steps_));
    double a, b, c;
    OP_REQUIRES_OK(ctx, ScalarDoubleAttr(ctx, "a", &a));
    OP_REQUIRES_OK(ctx, ScalarDoubleAttr(ctx, "b", &b));
    OP_REQUIRES_OK(ctx, ScalarDoubleAttr(ctx, "c", &c));
    a_ = static_cast<T>(a);
    b_ = static_cast<T>(b);
    c_ = static_cast<T>(c);
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& input = ctx->input(0);
    const TensorShape& shape = input.shape();
    OP_REQUIRES(ctx, shape.dims() >= 2,
                tensorflow::errors::InvalidArgument(
                    "FisheroptFusedPolar: input must be a matrix or a batch of matrices (rank >= 2), got shape ",
                    shape.DebugString()));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &output));
    const Eigen::Index rows = shape.dim_size(shape.dims() - 2);
    const Eigen::Index cols = shape.dim_size(shape.dims() - 1);
    if (shape.num_elements() == 0) {
      return;
    }
    const Eigen::Index batch = shape.num_elements() / (rows * cols);
    const Eigen::Index r = std::min(rows, cols);
    const Eigen::Index per_matrix = 2 * rows * cols + 2 * r * r;
    const T* in = input.flat<T>().data();
    T* out = output->flat<T>().data();
    // Flops of one matrix's whole iteration; below ~1 MFLOP the thread pool's hand-off costs more
    // than it saves inside a matrix, so small matrices are spread over the batch instead.
    const double flops = static_cast<double>(steps_) * (4.0 * r * r * (rows + cols - r) + 2.0 * r * r * r);
    const bool parallel_inside = flops >= 1e6 || batch == 1;

    if (parallel_inside) {
      Tensor scratch;
      OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DataTypeToEnum<T>::value,
                                             TensorShape({per_matrix}), &scratch));
      T* s = scratch.flat<T>().data();
      const Workspace<T> ws{s, s + rows * cols, s + 2 * rows * cols, s + 2 * rows * cols + r * r};
      const auto& device = ctx->eigen_device<Eigen::ThreadPoolDevice>();
      for (Eigen::Index i = 0; i < batch; ++i) {
        PolarOfOne<T>(device, in + i * rows * cols, out + i * rows * cols, rows, cols, steps_, a_, b_, c_, ws);
      }
      return;
    }
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    const int num_threads = ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
    const T a = a_, b = b_, c = c_;
    const int steps = steps_;
    tensorflow::Shard(num_threads, workers, batch, static_cast<int64_t>(flops),
                      [&](int64_t begin, int64_t end) {
                        std::vector<T> buffer(per_matrix + 16);
                        T* s = buffer.data();
                        const Workspace<T> ws{s, s + rows * cols, s + 2 * rows * cols,
                                              s + 2 * rows * cols + r * r};
                        Eigen::DefaultDevice device;
                        for (int64_t i = begin; i < end; ++i) {
                          PolarOfOne<T>(device, in + i * rows * cols, out + i * rows * cols, rows, cols,
                                        steps, a, b, c, ws);
                        }
                      });
  }

 private:
  int steps_;
  T a_, b_, c_;
};

REGISTER_KERNEL_BUILDER(Name("FisheroptFusedPolar").Device(DEVICE_CPU).TypeConstraint<float>("T"),
                        FusedPolarOp<float>);
REGISTER_KERNEL_BUILDER(Name("FisheroptFusedPolar").Device(DEVICE_CPU).TypeConstraint<double>("T"),
                        FusedPolarOp<double>);

}  // namespace
}  // namespace fisheropt
