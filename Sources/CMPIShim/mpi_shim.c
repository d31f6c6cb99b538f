// Open MPI through dlopen: its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the
// addresses of global objects (ompi_mpi_comm_world, ...), resolved with dlsym; its functions
// take them as pointers. Only Open MPI's ABI (libmpi.so.40) is supported.
#include "mpi_shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *handle_t;
#define IN_PLACE ((void *)1)
#define THREAD_FUNNELED 1
// One call moves at most this many elements (MPI counts are int).
#define CHUNK ((int64_t)1 << 28)

static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_initialized)(int *);
static int (*p_comm_rank)(handle_t, int *);
static int (*p_comm_size)(handle_t, int *);
static int (*p_allreduce)(const void *, void *, int, handle_t, handle_t, handle_t);
static int (*p_allgatherv)(const void *, int, handle_t, void *, const int *, const int *, handle_t, handle_t);
static int (*p_bcast)(void *, int, handle_t, int, handle_t);
static int (*p_barrier)(handle_t);
static int (*p_abort)(handle_t, int);
static int (*p_finalize)(void);
static handle_t comm_world, type_float, type_double, type_byte, op_sum, op_max;

static void *resolve(void *lib, const char *name, char *error, int capacity, int *failed) {
    void *p = dlsym(lib, name);
    if (!p && !*failed) {
        snprintf(error, (size_t)capacity, "libmpi.so.40 has no symbol %s (not Open MPI 4 or 5?)", name);
        *failed = 1;
    }
    return p;
}

int detr_mpi_load(char *error, int capacity) {
    // RTLD_GLOBAL: Open MPI's components (plugins it opens itself) need libmpi's symbols.
    void *lib = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(error, (size_t)capacity, "cannot load Open MPI (libmpi.so.40; Debian: apt-get install openmpi-bin): %s",
                 why ? why : "unknown error");
        return -1;
    }
    int failed = 0;
    *(void **)&p_init_thread = resolve(lib, "MPI_Init_thread", error, capacity, &failed);
    *(void **)&p_initialized = resolve(lib, "MPI_Initialized", error, capacity, &failed);
    *(void **)&p_comm_rank = resolve(lib, "MPI_Comm_rank", error, capacity, &failed);
    *(void **)&p_comm_size = resolve(lib, "MPI_Comm_size", error, capacity, &failed);
    *(void **)&p_allreduce = resolve(lib, "MPI_Allreduce", error, capacity, &failed);
    *(void **)&p_allgatherv = resolve(lib, "MPI_Allgatherv", error, capacity, &failed);
    *(void **)&p_bcast = resolve(lib, "MPI_Bcast", error, capacity, &failed);
    *(void **)&p_barrier = resolve(lib, "MPI_Barrier", error, capacity, &failed);
    *(void **)&p_abort = resolve(lib, "MPI_Abort", error, capacity, &failed);
    *(void **)&p_finalize = resolve(lib, "MPI_Finalize", error, capacity, &failed);
    comm_world = resolve(lib, "ompi_mpi_comm_world", error, capacity, &failed);
    type_float = resolve(lib, "ompi_mpi_float", error, capacity, &failed);
    type_double = resolve(lib, "ompi_mpi_double", error, capacity, &failed);
    type_byte = resolve(lib, "ompi_mpi_byte", error, capacity, &failed);
    op_sum = resolve(lib, "ompi_mpi_op_sum", error, capacity, &failed);
    op_max = resolve(lib, "ompi_mpi_op_max", error, capacity, &failed);
    return failed ? -1 : 0;
}

int detr_mpi_init(int *rank, int *size) {
    int provided = 0;
    int rc = p_init_thread(NULL, NULL, THREAD_FUNNELED, &provided);
    if (rc != 0) return rc;
    rc = p_comm_rank(comm_world, rank);
    if (rc != 0) return rc;
    return p_comm_size(comm_world, size);
}

static int allreduce(void *values, int64_t count, handle_t type, size_t size, int op) {
    char *p = values;
    for (int64_t done = 0; done < count; done += CHUNK) {
        int n = (int)(count - done < CHUNK ? count - done : CHUNK);
        int rc = p_allreduce(IN_PLACE, p + (size_t)done * size, n, type, op == 1 ? op_max : op_sum, comm_world);
        if (rc != 0) return rc;
    }
    return 0;
}

int detr_mpi_allreduce_float(float *values, int64_t count, int op) {
    return allreduce(values, count, type_float, sizeof(float), op);
}

int detr_mpi_allreduce_double(double *values, int64_t count, int op) {
    return allreduce(values, count, type_double, sizeof(double), op);
}

int detr_mpi_allgatherv_double(const double *send, int count, double *receive, const int *counts,
                               const int *displacements) {
    return p_allgatherv(send, count, type_double, receive, counts, displacements, type_double, comm_world);
}

int detr_mpi_bcast_bytes(void *buffer, int64_t count, int root) {
    char *p = buffer;
    for (int64_t done = 0; done < count; done += CHUNK) {
        int n = (int)(count - done < CHUNK ? count - done : CHUNK);
        int rc = p_bcast(p + done, n, type_byte, root, comm_world);
        if (rc != 0) return rc;
    }
    return 0;
}

int detr_mpi_barrier(void) { return p_barrier(comm_world); }

void detr_mpi_abort(int code) {
    if (p_abort) p_abort(comm_world, code);
}

int detr_mpi_finalize(void) { return p_finalize ? p_finalize() : 0; }
