#ifndef CPROTOBUFC_SHIM_H
#define CPROTOBUFC_SHIM_H

// protobuf-c's runtime, which the generated etcd messages (CEtcdProtos) are built against. A
// system library of its own so that pkg-config (libprotobuf-c.pc) supplies the include and link
// flags where the library is not in a default path (Homebrew on macOS).
#include <protobuf-c/protobuf-c.h>

#endif
