#ifndef CNGHTTP2_SHIM_H
#define CNGHTTP2_SHIM_H

#include <nghttp2/nghttp2.h>

// NGHTTP2_CLIENT_MAGIC is a string macro Swift does not import.
static inline const char *cnghttp2_client_magic(void) { return NGHTTP2_CLIENT_MAGIC; }
static inline size_t cnghttp2_client_magic_len(void) { return NGHTTP2_CLIENT_MAGIC_LEN; }

#endif
