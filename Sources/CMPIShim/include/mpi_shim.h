// Open MPI loaded at run time (dlopen of libmpi.so.40): the handful of calls a data-parallel
// trainer needs, so that the tools run on machines without Open MPI's runtime and link no MPI.
#ifndef DETR_MPI_SHIM_H
#define DETR_MPI_SHIM_H

#include <stdint.h>

// Loads libmpi and resolves its functions and predefined handles. 0 on success; otherwise -1
// with a message in `error` (at most `capacity` bytes, NUL-terminated).
int detr_mpi_load(char *error, int capacity);
// MPI_Init_thread (MPI_THREAD_FUNNELED); fills the rank and size of MPI_COMM_WORLD. MPI's code.
int detr_mpi_init(int *rank, int *size);
// In-place MPI_Allreduce over MPI_COMM_WORLD. `op`: 0 sum, 1 max.
int detr_mpi_allreduce_float(float *values, int64_t count, int op);
int detr_mpi_allreduce_double(double *values, int64_t count, int op);
// MPI_Allgatherv of doubles: `counts` and `displacements` have one entry per rank.
int detr_mpi_allgatherv_double(const double *send, int count, double *receive, const int *counts,
                               const int *displacements);
// MPI_Bcast of bytes from `root`.
int detr_mpi_bcast_bytes(void *buffer, int64_t count, int root);
int detr_mpi_barrier(void);
// MPI_Abort of MPI_COMM_WORLD (does not return when MPI is up).
void detr_mpi_abort(int code);
int detr_mpi_finalize(void);

#endif
