// The one PTX module the CUDA backend loads: every kernel source, compiled together.
#include "elementwise.cu"
#include "matvec.cu"
#include "attention.cu"
#include "decode.cu"
