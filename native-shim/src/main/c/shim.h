/* vfio-broker native shim. Convention: every function returns >= 0 on success and -errno on
 * failure, so the error travels with the result and nothing depends on a thread-local errno. */
#ifndef VB_SHIM_H
#define VB_SHIM_H

#include <errno.h>

/* Map a libc result (-1 + errno) onto the shim convention. */
#define VB_RET(expr) ({ long vb_r_ = (long)(expr); vb_r_ < 0 ? -(long)errno : vb_r_; })

#endif
