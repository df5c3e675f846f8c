/* replay.c - run the fuzz target over recorded requests, without libFuzzer.
 *
 * usage: replay_requests FILE...
 *
 * Each FILE holds one request payload (what follows the length in a frame).
 * Prints how many decoded and how many were refused; a crash or an abort in
 * the target is the failure.  Built with any compiler (make test runs it).
 */
#include <stdint.h>
#include <stdio.h>

#include "errors.h"
#include "mgr_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char *argv[])
{
    if (argc < 2)
        usage_exit("replay_requests FILE...", "no files given");
    static uint8_t data[MGR_FRAME_MAX + 1];
    static struct mgr_request req;
    int decoded = 0, refused = 0;
    for (int k = 1; k < argc; k++) {
        FILE *f = fopen(argv[k], "rb");
        if (f == NULL)
            err_exit("open %s", argv[k]);
        size_t n = fread(data, 1, sizeof data, f);
        fclose(f);
        LLVMFuzzerTestOneInput(data, n);
        char why[128];
        if (mgr_decode_request(data, n, &req, why, sizeof why) == 0)
            decoded++;
        else
            refused++;
    }
    printf("replayed %d requests: %d decoded, %d refused\n", argc - 1, decoded, refused);
    return 0;
}
