#ifndef CETCDPROTOS_H
#define CETCDPROTOS_H
// protoc-c output for Protos/etcd/*.proto is included here by scripts/generate-protos.sh.
#endif
