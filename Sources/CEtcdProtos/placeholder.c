// Replaced by protoc-c output (scripts/generate-protos.sh).
#include "CEtcdProtos.h"
