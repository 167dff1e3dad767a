#ifndef CETCDPROTOS_H
#define CETCDPROTOS_H
// Umbrella header of the protoc-c output for Protos/etcd/*.proto (scripts/generate-protos.sh).
#include "kv.pb-c.h"
#include "auth.pb-c.h"
#include "rpc.pb-c.h"
#endif
