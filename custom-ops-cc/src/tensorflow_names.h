// The TensorFlow framework names both op files use, brought into namespace fisheropt once.

#ifndef FISHEROPT_TENSORFLOW_NAMES_H_
#define FISHEROPT_TENSORFLOW_NAMES_H_

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"

namespace fisheropt {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

}  // namespace fisheropt

#endif  // FISHEROPT_TENSORFLOW_NAMES_H_
