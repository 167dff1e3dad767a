// libFuzzer's driver entry point (compiler-rt, linked by -sanitize=fuzzer). SwiftPM links each
// executable with main aliased to <Module>_main, so the fuzz targets define that function and
// hand over to libFuzzer through this call instead of relying on libFuzzer's own main.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
